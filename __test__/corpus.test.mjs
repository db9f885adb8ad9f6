// Holds the classifier to every line of both corpus files: the real provider errors and
// OpenClaw's own golden cases (a line whose `reason` is a list passes on any of them).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

// The corpus lives in the repository (see __test__/fixtures/corpus/README.md).
const corpusFile = (name) => new URL(`./fixtures/corpus/${name}`, import.meta.url)
const readJsonl = (name) => fs.readFileSync(corpusFile(name), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
const cases = readJsonl('errors.jsonl')
const engine = new RetryEngine()
after(() => engine.close())

test('the corpus is there and not trivially small', () => {
  assert.ok(cases.length >= 20, `${cases.length} cases`)
  assert.ok(cases.some((c) => c.reason === null))
})

for (const c of cases) {
  test(`corpus ${c.id}`, () => {
    const got = engine.classify(c.input)
    assert.equal(got.reason, c.reason, `${c.id}: ${JSON.stringify(got)}`)
    if ('retryAfterMs' in c) assert.equal(got.retryAfterMs, c.retryAfterMs, c.id)
    if ('resetAtMs' in c) assert.equal(got.resetAtMs, c.resetAtMs, c.id)
    if (c.input && c.input.kind === 'chat_text') {
      assert.equal(engine.isSurfacedError(c.input.text), false, `${c.id}: a normal reply`)
    }
  })
}

/** An `Error` carrying the HTTP-like fields, as SDKs throw them. */
function asError (input) {
  const message = typeof input.body === 'string'
    ? input.body
    : input.body?.error?.message ?? input.body?.message ?? `HTTP ${input.status}`
  const err = new Error(message)
  err.status = input.status
  if (input.headers) err.headers = input.headers
  if (input.body !== undefined) err.body = input.body
  return err
}

const httpCases = cases.filter((c) => c.input && typeof c.input === 'object' && 'status' in c.input)

test('the corpus has HTTP-like cases to replay as Errors', () => {
  assert.ok(httpCases.length >= 10, `${httpCases.length}`)
})

for (const c of httpCases) {
  test(`corpus ${c.id} as a JS Error`, () => {
    const plain = engine.classify(c.input)
    const got = engine.classify(asError(c.input))
    assert.equal(got.reason, c.reason, `${c.id}: ${JSON.stringify(got)}`)
    assert.equal(got.reason, plain.reason)
    assert.equal(got.status, plain.status)
    if ('retryAfterMs' in c) assert.equal(got.retryAfterMs, c.retryAfterMs, c.id)
    if ('resetAtMs' in c) assert.equal(got.resetAtMs, c.resetAtMs, c.id)
  })
}

const suite = readJsonl('openclaw-suite.jsonl')

test('the OpenClaw suite is there in full', () => {
  assert.ok(suite.length >= 418, `${suite.length} cases`)
})

for (const c of suite) {
  test(`openclaw suite ${c.id}`, () => {
    const got = engine.classify(c.input)
    const want = Array.isArray(c.reason) ? c.reason : [c.reason]
    assert.ok(want.includes(got.reason), `${c.id} (${c.source}): got ${got.reason} by rule ${got.rule}, want ${want.join('|')}`)
    if (got.reason != null) assert.equal(typeof got.rule, 'string', `${c.id}: the deciding rule is named`)
  })
}

// Our own probes of each of OpenClaw 2026.9.6's rule families (fixtures/openclaw-family-probes
// .jsonl, written for this project; `openclaw` is what OpenClaw's classifier said), in one test.
test('every OpenClaw rule-family probe classifies as OpenClaw does (mapped to our reasons)', () => {
  const probes = fs.readFileSync(new URL('./fixtures/openclaw-family-probes.jsonl', import.meta.url), 'utf8')
    .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
  assert.ok(probes.length >= 500, `${probes.length} probes`)
  const wrong = probes.filter((p) => {
    const got = engine.classify(p.input).reason
    return Array.isArray(p.reason) ? !p.reason.includes(got) : got !== p.reason
  })
  assert.deepEqual(wrong.map((p) => p.id), [])
})
