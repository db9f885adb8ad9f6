// The JS input reader (src/binding/input.rs) and the argument checks (src/binding/args.rs):
// what each kind of JS value reads as, and the E_INVALID_INPUT / E_INVALID_OPTION messages.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')
const engine = new RetryEngine()
const dirs = []
after(async () => {
  await engine.close()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})
const T0 = Date.UTC(2026, 0, 1)

function coded (code, field, contains) {
  return (e) => {
    assert.ok(e instanceof Error, `not an Error: ${e}`)
    assert.equal(e.code, code, `${e.code}: ${e.message}`)
    if (field) assert.ok(e.message.includes(`\`${field}\``), `message should name \`${field}\`: ${e.message}`)
    if (contains) assert.ok(e.message.includes(contains), `message should say "${contains}": ${e.message}`)
    return true
  }
}

test('native types: Headers, Map, Response-like, header bags with get() only', () => {
  const hint = (input) => engine.classify(input).retryAfterMs
  assert.equal(hint({ status: 429, headers: new Headers({ 'Retry-After': '7' }) }), 7000)
  assert.equal(hint({ status: 429, headers: new Map([['retry-after', '7']]) }), 7000)
  assert.equal(hint(new Response('', { status: 429, headers: { 'retry-after': '7' } })), 7000)
  class Bag { get (name) { return name === 'retry-after' ? '7' : null } }
  assert.equal(hint({ status: 429, headers: new Bag() }), 7000)
  const res = new Response('{}', { status: 503, statusText: 'Service Unavailable' })
  assert.equal(engine.classify(res).status, 503)
  assert.equal(engine.classify(res).reason, engine.classify({ status: 503, statusText: 'Service Unavailable' }).reason)
})

test('Error chains: cause, error, response, AggregateError errors', () => {
  const inner = Object.assign(new Error('Rate limit reached'), { status: 429, headers: { 'retry-after': '7' } })
  assert.equal(engine.classify(new Error('wrapped', { cause: inner })).retryAfterMs, 7000)
  assert.equal(engine.classify(Object.assign(new Error('x'), { error: inner })).reason, 'rate_limit')
  assert.equal(engine.classify(new AggregateError([new Error('boom'), inner], 'all failed')).reason, 'rate_limit')
  const withResponse = Object.assign(new Error('Request failed'), { response: { status: 402, data: { error: 'no credits' } } })
  assert.equal(engine.classify(withResponse).reason, 'billing')
})

test('cycles are skipped: an axios-shaped error classifies', () => {
  const response = { status: 429, headers: { 'retry-after': '7' }, data: { error: { message: 'Rate limit' } } }
  response.request = { res: response }
  const err = Object.assign(new Error('Request failed with status code 429'), { response, config: { headers: {} } })
  err.self = err
  const c = engine.classify(err)
  assert.equal(c.reason, 'rate_limit')
  assert.equal(c.retryAfterMs, 7000)
})

test('sparse arrays are read by their present elements; holes are absent', () => {
  const a = []
  a[2 ** 32 - 2] = { status: 429, headers: { 'retry-after': '7' } }
  assert.equal(engine.classify(a).retryAfterMs, 7000)
  const b = []
  b[1_000_000] = 'You exceeded your current quota: daily limit'
  assert.deepEqual(engine.classify(b), engine.classify(['You exceeded your current quota: daily limit']))
  assert.notEqual(engine.classify(b).reason, null)
})

test('the last assistant message of a long agent_end is read (arrays keep their tail)', () => {
  const messages = Array.from({ length: 5000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}`, stopReason: 'stop' }))
  messages.push({ role: 'assistant', stopReason: 'error', errorMessage: '429 rate limit; Retry-After: 7 seconds', errorCode: '429' })
  const c = engine.classify({ success: true, messages })
  assert.equal(c.reason, 'rate_limit')
})

test('throwing getters and Proxy traps read as absent; the rest still classifies', () => {
  const trap = () => { throw new Error('trap') }
  const p = new Proxy({}, { get: trap, ownKeys: trap, getPrototypeOf: trap, has: trap })
  const getter = Object.defineProperty({ status: 429 }, 'body', { enumerable: true, get: trap })
  assert.equal(engine.classify({ status: 500, x: p }).reason, 'server_error')
  assert.equal(engine.classify(getter).reason, 'rate_limit')
  assert.equal(typeof engine.classify(p).reason, 'string')
  // No exception is left pending: the next call works.
  assert.equal(engine.classify('429 Too Many Requests').reason, 'rate_limit')
})

test('Symbols, functions and BigInt: absent, absent, a number', () => {
  assert.equal(engine.classify({ status: 429n, s: Symbol('x'), f () {}, g: () => {} }).status, 429)
  assert.equal(engine.classify({ status: 10n ** 40n, body: 'rate limit exceeded' }).reason, 'rate_limit')
  assert.equal(engine.classify({ status: 429, body: Buffer.from('slow down') }).status, 429)
})

test('boxed primitives read as the primitive inside (new String, new Number, new Boolean)', () => {
  const text = '429 Too Many Requests: Please try again in 20s'
  const shape = (input) => { const { resetAtMs, ...rest } = engine.classify(input); return rest }
  const plain = shape(text)
  assert.equal(plain.retryAfterMs, 20_000)
  assert.deepEqual(shape(new String(text)), plain)
  assert.equal(engine.classify({ status: new Number(429), message: new String('slow down') }).status, 429)
  assert.equal(engine.classify({ status: new String('503') }).status, 503)
  // A wrapper whose valueOf was replaced is still read by the built-in valueOf.
  const spoofed = new String(text)
  spoofed.valueOf = () => ({ nested: 'not a primitive' })
  assert.deepEqual(shape(spoofed), plain)
  // Not a wrapper: an object that only inherits String.prototype is read as an object.
  assert.doesNotThrow(() => engine.classify(Object.create(String.prototype)))
  assert.equal(engine.classify(new Boolean(false)).reason, engine.classify(false).reason)
})

test('a 50 MB string is read by its two ends', () => {
  const big = 'x'.repeat(50 * 1024 * 1024) + ' Please try again in 7s'
  const c = engine.classify(big)
  assert.equal(c.retryAfterMs, 7000)
})

test('argument errors name the argument and its kind; no napi code reaches the caller', () => {
  assert.throws(() => engine.recordFailure(42, 'x'), coded('E_INVALID_INPUT', 'key', 'expected a non-empty string, got number'))
  assert.throws(() => engine.breakerAcquire(undefined), coded('E_INVALID_INPUT', 'key', 'got undefined'))
  assert.throws(() => engine.breakerRecord('k', 'yes'), coded('E_INVALID_INPUT', 'ok', 'expected a boolean, got string'))
  assert.throws(() => engine.breakerState('k', '5'), coded('E_INVALID_INPUT', 'nowMs', 'got string'))
  assert.throws(() => engine.checkMessage('room', 5), coded('E_INVALID_INPUT', 'text', 'got number'))
  assert.throws(() => engine.nextReset(Symbol('w')), coded('E_INVALID_INPUT', 'window', 'got symbol'))
  assert.throws(() => engine.nextReset('1d', T0, 'x'), coded('E_INVALID_INPUT', 'opts', 'got string'))
  assert.throws(() => engine.nextReset('1d', T0, { utcOffsetMinutes: 'x' }), coded('E_INVALID_INPUT', 'opts.utcOffsetMinutes'))
  assert.throws(() => engine.isSurfacedError(null), coded('E_INVALID_INPUT', 'text', 'got null'))
  assert.throws(() => engine.evictIdle({}), coded('E_INVALID_INPUT', 'nowMs', 'got object'))
  // A very long chat text is checked by its ends, not refused.
  assert.equal(engine.isSurfacedError('a'.repeat(3 * 1024 * 1024)), false)
})

test('async methods reject (never throw) for any bad argument', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-input-'))
  dirs.push(dir)
  const e = new RetryEngine({ stateDir: dir, resend: async () => {} })
  try {
    await e.start()
    const calls = [
      [() => e.park(42, 'x'), 'sessionKey'],
      [() => e.park('s', 'x', 5), 'meta'],
      [() => e.park('s', 'x', [1]), 'meta'],
      [() => e.park('s', 'x', { message: 'm'.repeat((1 << 20) + 1) }), 'meta.message'],
      [() => e.get(), 'sessionKey'],
      [() => e.resolve({}), 'sessionKey'],
      [() => e.unpark(null), 'sessionKey'],
      [() => e.sendToSession('s', 42), 'message'],
      [() => e.sendToSession('s', 'hi', 7), 'opts'],
      [() => e.gatewayRequest(1), 'method'],
      [() => e.gatewayRequest('x', 'params'), 'params'],
      [() => e.pickProfile('openai', 'p1'), 'candidates'],
      [() => e.pickProfile('openai', ['p1', 2]), 'candidates[1]'],
      [() => e.markProfile(undefined, 'success'), 'profileId'],
      [() => e.registerProfile('p', 3), 'provider'],
      [() => e.profiles(9), 'provider'],
    ]
    for (const [call, field] of calls) {
      let p
      assert.doesNotThrow(() => { p = call() }, `${field}: threw synchronously`)
      assert.ok(p instanceof Promise)
      await assert.rejects(p, coded('E_INVALID_INPUT', field))
    }
    // Meta is stored as read: functions dropped, secrets under secret-named keys redacted.
    await e.park('s', { status: 429, headers: { 'retry-after': '3600' } }, { message: 'go on', provider: 'openai', apiKey: 'k-123456', f () {} })
    const entry = await e.get('s')
    assert.equal(entry.meta.message, 'go on')
    assert.equal(entry.meta.apiKey, '[redacted]')
    assert.equal('f' in entry.meta, false)
  } finally {
    await e.close()
  }
})

test('option bounds: patterns are limited in count and length before anything is compiled', () => {
  const huge = 'a'.repeat(50 * 1024 * 1024)
  assert.throws(() => new RetryEngine({ patterns: [{ pattern: huge, reason: 'rate_limit' }] }), coded('E_INVALID_OPTION', 'patterns[0].pattern', 'characters long'))
  assert.throws(() => new RetryEngine({ patterns: [{ pattern: 'a'.repeat(5000), reason: 'rate_limit' }] }), coded('E_INVALID_OPTION', 'patterns[0].pattern', 'at most 4096'))
  const many = Array.from({ length: 300 }, (_, i) => ({ pattern: `p${i}`, reason: 'rate_limit' }))
  assert.throws(() => new RetryEngine({ patterns: many }), coded('E_INVALID_OPTION', 'patterns', 'at most 256'))
  const tooMany = Array.from({ length: 20_000 }, (_, i) => ({ pattern: `p${i}`, reason: 'rate_limit' }))
  assert.throws(() => new RetryEngine({ patterns: tooMany }), coded('E_INVALID_OPTION', 'patterns'))
  assert.throws(() => new RetryEngine({ patterns: [{ pattern: '(a{1000}){1000}', reason: 'rate_limit' }] }), coded('E_INVALID_OPTION', 'patterns[0].pattern'))
  const cyclic = { pattern: 'x', reason: 'rate_limit' }
  cyclic.self = cyclic
  assert.throws(() => new RetryEngine({ patterns: [cyclic] }), coded('E_INVALID_OPTION', 'patterns[0].self', 'cycle'))
  assert.throws(() => new RetryEngine({ queue: { maxEntries: () => 1 } }), coded('E_INVALID_OPTION', 'queue.maxEntries', 'function'))
  assert.throws(() => new RetryEngine({ seed: Symbol('s') }), coded('E_INVALID_OPTION', 'seed'))
})
