// The input reader's fast path for plain data (src/binding/plain_json.rs) against its native
// reader (src/binding/input.rs): both must read the same value. Each shape is made twice by
// its factory; the second copy also holds a cycle at its top (`loop`), which makes the fast
// path give up, so that copy is read natively (a cycle reads as absent there). Park meta is
// echoed back by `get()`, so it shows exactly what was read; failure inputs are compared by
// their classification.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plain-input-'))
const engine = new RetryEngine({ stateDir: path.join(dir, 'state'), resend: async () => {} })
await engine.start()
after(async () => {
  await engine.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

const INPUT = { status: 429, body: 'Rate limit reached' }
let n = 0
async function echo (meta) {
  const key = `agent:main:plain-${n++}`
  await engine.park(key, INPUT, meta)
  return (await engine.get(key)).meta
}

/** The factory's value, and its twin with a cycle at the top (read natively). */
function twins (make) {
  const fast = make()
  const native = make()
  if (Array.isArray(native)) native.push(native)
  else native.loop = native
  return { fast, native }
}

/** Shapes of plain data, each with the parts that need care. */
const SHAPES = {
  numbers: () => ({
    int: 7, neg: -3, zero: 0, negZero: -0, float: 1.5, small: 1e-7, tiny: 5e-324,
    safe: 2 ** 53 - 1, negSafe: -(2 ** 53 - 1), big: 1.5e300, frac: 0.1 + 0.2,
    nan: NaN, inf: Infinity, ninf: -Infinity,
  }),
  unsafeInteger: () => ({ provider: 'p', at: 2 ** 53, wide: 2 ** 60 }),
  strings: () => ({
    plain: 'openai', unicode: 'é€😀', escapes: '"quoted" \\ back\nline\ttab\u0001\u001f\u2028',
    empty: '', long: 'x'.repeat(40_000), longer: 'y'.repeat(70_000),
  }),
  loneSurrogate: () => ({ provider: 'p', bad: 'a\ud800b', tail: '\udc00' }),
  absent: () => ({
    provider: 'p', nul: null, und: undefined, fn () {}, sym: Symbol('s'),
    list: [1, , 3, null, undefined, () => 1, Symbol('t'), NaN, 'x', { b: 2 }, [], {}], // eslint-disable-line no-sparse-arrays
  }),
  secrets: () => ({
    provider: 'p', token: 'sk-live-1', apiKey: null, password: undefined, authorization: () => 1,
    secret: { deep: 1 }, nested: { api_key: 'k', clientSecret: NaN, fine: 'kept' },
  }),
  keys: () => {
    const o = { '10': 'ten', '0': 'zero', b: 1, a: 2, _private: 'p', config: { c: 1 }, stack: 's' }
    o['k'.repeat(1025)] = 'long key'
    o['k'.repeat(1024)] = 'longest kept key'
    Object.defineProperty(o, 'hidden', { value: 1, enumerable: false })
    o[Symbol('sym')] = 1
    return o
  },
  nullPrototype: () => Object.assign(Object.create(null), { provider: 'p', inner: Object.assign(Object.create(null), { x: 1 }) }),
  getters: () => ({ provider: 'p', get got () { return 'from a getter' }, get bad () { throw new Error('no') } }),
  proxies: () => ({
    obj: new Proxy({ a: 1, b: 'two' }, {}),
    arr: new Proxy([1, 2], {}),
    trap: new Proxy({}, { ownKeys () { throw new Error('trap') } }),
  }),
  natives: () => ({
    when: new Date(Date.UTC(2026, 0, 1)), n: 10n, wide: 2n ** 70n, map: new Map([['k', 'v']]),
    buf: Buffer.from('bytes'), boxed: new String('boxed'), err: new Error('inner'),
    klass: new (class Point { constructor () { this.x = 1 } })(),
  }),
  shared: () => { const s = { v: 1 }; return { a: s, b: [s, s], c: { d: s } } },
  arrays: () => ({ few: [1, 'a', true, false, [[[]]]], many: Array.from({ length: 300 }, (_, i) => i), sparse: Object.assign([], { 5: 'five' }) }),
  deep: () => { let o = { leaf: true }; for (let i = 0; i < 31; i++) o = { i, o }; return o },
  wide: () => Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`k${i}`, i])),
  manyValues: () => ({ rows: Array.from({ length: 200 }, (_, i) => ({ i, a: [i, i + 1, i + 2], s: `row ${i}` })) }),
}

test('park meta: the fast path reads plain data exactly as the native reader does', async () => {
  for (const [name, make] of Object.entries(SHAPES)) {
    const { fast, native } = twins(make)
    let a, b
    try { a = await echo(fast) } catch (e) { a = { rejected: e.code, message: e.message } }
    try { b = await echo(native) } catch (e) { b = { rejected: e.code, message: e.message } }
    assert.deepEqual(a, b, `shape ${name}`)
  }
})

test('park meta: what the fast path reads, field by field', async () => {
  const meta = await echo({
    ...SHAPES.numbers(), ...SHAPES.absent(), ...SHAPES.secrets(), s: 'é"\n', deep: { a: [{ b: [true] }] },
  })
  assert.deepEqual(meta, {
    int: 7, neg: -3, zero: 0, negZero: 0, float: 1.5, small: 1e-7, tiny: 5e-324,
    safe: 2 ** 53 - 1, negSafe: -(2 ** 53 - 1), big: 1.5e300, frac: 0.1 + 0.2,
    provider: 'p', list: [1, 3, 'x', { b: 2 }, [], {}],
    token: '[redacted]', authorization: '[redacted]', secret: '[redacted]',
    nested: { api_key: '[redacted]', clientSecret: '[redacted]', fine: 'kept' },
    s: 'é"\n', deep: { a: [{ b: [true] }] },
  })
  assert.ok(Object.is((await echo({ x: -0 })).x, 0), '-0 reads as 0')
})

test('a value under a secret-named key is never read, in meta or in a failure', async () => {
  let reads = 0
  const secretive = () => ({ get text () { reads++; return 'sk-live-123' } })
  const meta = await echo({ provider: 'p', apiKey: secretive(), nested: { password: [secretive()] } })
  assert.deepEqual(meta, { provider: 'p', apiKey: '[redacted]', nested: { password: '[redacted]' } })
  engine.classify({ status: 401, body: 'invalid key', headers: { authorization: secretive() } })
  assert.equal(reads, 0)
})

test('a getter that calls into the engine while its object is read: both reads finish, nothing leaks', async () => {
  const meta = {
    provider: 'p',
    get reason () { return engine.classify({ status: 429, body: 'Rate limit reached', headers: { 'retry-after': '5' } }).reason },
    token: 'sk-live-1',
  }
  assert.deepEqual(await echo(meta), { provider: 'p', reason: 'rate_limit', token: '[redacted]' })
  // A park inside a getter reads its meta (no noise skipped) in the middle of reading a
  // failure: the outer read must still skip the transport noise after it.
  const make = () => ({
    get note () { engine.park(`agent:main:plain-inner-${n++}`, INPUT, { provider: 'inner' }); return 'see config' },
    config: { error: { code: 'insufficient_quota', message: 'You exceeded your current quota' } },
  })
  const { fast, native } = twins(make)
  assert.deepEqual(engine.classify(fast), engine.classify(native))
  const quiet = { note: 'see config', config: make().config }
  assert.deepEqual(engine.classify(make()), engine.classify(quiet), 'config is transport noise, never failure text')
  // classify() from a getter of a classify() input.
  let inner
  const outer = engine.classify({
    status: 503,
    get note () { inner = engine.classify({ status: 429, body: 'Rate limit reached' }); return 'overloaded' },
  })
  assert.equal(inner?.reason, 'rate_limit')
  assert.equal(outer.status, 503)
  assert.equal(outer.reason, engine.classify({ status: 503, note: 'overloaded' }).reason)
})

test('failure inputs: the fast path classifies plain data exactly as the native reader does', () => {
  const failures = {
    ...SHAPES,
    openai: () => ({
      status: 429,
      headers: { 'retry-after': '20', 'x-ratelimit-remaining-requests': '0' },
      body: { error: { message: 'Rate limit reached for gpt-4o on tokens per min (TPM)', type: 'tokens' } },
    }),
    noise: () => ({
      message: 'upstream overloaded', status: 529, config: { headers: { authorization: 'Bearer sk' } },
      request: { path: '/v1' }, _internal: 'Rate limit', stack: 'Error: x\n at y',
    }),
    quota: () => ({ error: { code: 'insufficient_quota', message: 'You exceeded your current quota' }, status: 429 }),
    nested: () => ({ cause: { cause: { status: 401, message: 'invalid x-api-key' } } }),
    list: () => [{ role: 'user', content: 'hi' }, { role: 'assistant', stopReason: 'error', errorMessage: '503 overloaded_error' }],
  }
  for (const [name, make] of Object.entries(failures)) {
    const { fast, native } = twins(make)
    const a = engine.classify(fast)
    const b = engine.classify(native)
    // A reset derived from the clock ("tokens per min") may fall a millisecond apart.
    if (a.resetAtMs !== undefined && b.resetAtMs !== undefined) {
      assert.ok(Math.abs(a.resetAtMs - b.resetAtMs) < 1000, `failure ${name}: resetAtMs`)
      b.resetAtMs = a.resetAtMs
    }
    assert.deepEqual(a, b, `failure ${name}`)
  }
})

test('the fast path keeps the builtins it was compiled with (patching them later changes nothing)', () => {
  const keys = Object.keys
  const stringify = JSON.stringify
  try {
    Object.keys = () => ['forged']
    JSON.stringify = () => '"forged"'
    const c = engine.classify({ status: 429, body: 'Rate limit reached' })
    assert.equal(c.status, 429)
    assert.equal(c.reason, 'rate_limit')
  } finally {
    Object.keys = keys
    JSON.stringify = stringify
  }
})
