// Every error path gives a stable err.code, and the engine keeps working after an error.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const dirs = []
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-errors-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})
const LATER = { status: 429, headers: { 'retry-after': '3600' }, body: 'rate limited' }
const T0 = Date.UTC(2026, 0, 1)

function coded (code, field) {
  return (e) => {
    assert.ok(e instanceof Error, `not an Error: ${e}`)
    assert.equal(e.code, code, `${e.code}: ${e.message}`)
    if (field) assert.ok(e.message.includes(`\`${field}\``), `message should name \`${field}\`: ${e.message}`)
    assert.ok(e.message.length > 10)
    return true
  }
}

test('E_INVALID_OPTION names the field', () => {
  assert.throws(() => new RetryEngine({ queue: { maxEntries: 'many' } }), coded('E_INVALID_OPTION', 'queue.maxEntries'))
  assert.throws(() => new RetryEngine({ scheduler: { confirm: 'sometimes' } }), coded('E_INVALID_OPTION', 'scheduler.confirm'))
  assert.throws(() => new RetryEngine({ stateDirectory: '/tmp' }), coded('E_INVALID_OPTION', 'stateDirectory'))
})

test('E_INVALID_INPUT for bad arguments of the synchronous methods', async () => {
  const engine = new RetryEngine()
  try {
    const long = 'k'.repeat(1025)
    assert.throws(() => engine.recordFailure('', LATER, T0), coded('E_INVALID_INPUT', 'key'))
    assert.throws(() => engine.recordFailure('   ', LATER, T0), coded('E_INVALID_INPUT', 'key'))
    assert.throws(() => engine.recordFailure(long, LATER, T0), coded('E_INVALID_INPUT', 'key'))
    assert.throws(() => engine.recordFailure('k', { success: true, messages: [] }, T0), coded('E_INVALID_INPUT', 'input'))
    assert.throws(() => engine.recordFailure('k', LATER, Number.NaN), coded('E_INVALID_INPUT', 'nowMs'))
    assert.throws(() => engine.recordFailure('k', LATER, -1), coded('E_INVALID_INPUT', 'nowMs'))
    assert.throws(() => engine.recordFailure('k', LATER, Infinity), coded('E_INVALID_INPUT', 'nowMs'))
    assert.throws(() => engine.recordSuccess(''), coded('E_INVALID_INPUT', 'key'))
    assert.throws(() => engine.state('', T0), coded('E_INVALID_INPUT', 'key'))
    assert.throws(() => engine.reset(''), coded('E_INVALID_INPUT', 'key'))
    assert.throws(() => engine.breakerAcquire('', T0), coded('E_INVALID_INPUT', 'key'))
    assert.throws(() => engine.breakerRecord('', true, T0), coded('E_INVALID_INPUT', 'key'))
    assert.throws(() => engine.breakerState('k', Number.NaN), coded('E_INVALID_INPUT', 'nowMs'))
    assert.throws(() => engine.checkMessage('', 'hi', T0), coded('E_INVALID_INPUT', 'roomKey'))
    assert.throws(() => engine.nextReset('5q', T0), coded('E_INVALID_INPUT', 'window'))
    assert.throws(() => engine.evictIdle(-5), coded('E_INVALID_INPUT', 'nowMs'))
    // The engine keeps working.
    assert.equal(engine.recordFailure('k', LATER, T0).action, 'retry')
    assert.equal(engine.breakerAcquire('k', T0).permit, 'allowed')
  } finally {
    await engine.close()
  }
})

test('E_INVALID_INPUT for bad arguments of the async methods', async () => {
  const engine = new RetryEngine({ stateDir: tmpDir(), resend: async () => {} })
  try {
    await engine.start()
    await assert.rejects(engine.park('', LATER), coded('E_INVALID_INPUT', 'sessionKey'))
    await assert.rejects(engine.park('s', LATER, 'not an object'), coded('E_INVALID_INPUT', 'meta'))
    await assert.rejects(engine.get(''), coded('E_INVALID_INPUT', 'sessionKey'))
    await assert.rejects(engine.unpark(''), coded('E_INVALID_INPUT', 'sessionKey'))
    await assert.rejects(engine.resolve(''), coded('E_INVALID_INPUT', 'sessionKey'))
    await assert.rejects(engine.sendToSession('s', '   '), coded('E_INVALID_INPUT', 'message'))
    assert.equal((await engine.park('s', LATER)).parked, true)
  } finally {
    await engine.close()
  }
})

test('wrong JS argument types are errors with a code, not crashes', async () => {
  const engine = new RetryEngine()
  try {
    for (const call of [() => engine.state(42), () => engine.recordFailure(), () => engine.checkMessage('room', 7)]) {
      assert.throws(call, (e) => e instanceof Error && typeof e.code === 'string' && e.code.length > 0)
    }
    assert.equal(engine.classify('429').reason, 'rate_limit')
  } finally {
    await engine.close()
  }
})

test('E_NOT_STARTED before start()', async () => {
  const engine = new RetryEngine({ stateDir: tmpDir(), resend: async () => {} })
  try {
    for (const call of [
      () => engine.park('s', LATER),
      () => engine.get('s'),
      () => engine.pending(),
      () => engine.unpark('s'),
      () => engine.resolve('s'),
      () => engine.pickProfile('openai', ['p1']),
      () => engine.markProfile('p1', 'success'),
      () => engine.registerProfile('p1', 'openai'),
      () => engine.profiles()
    ]) {
      await assert.rejects(call(), coded('E_NOT_STARTED'))
    }
    // stats() answers before start, saying so.
    assert.equal((await engine.stats()).running, false)
    // Synchronous parts need no start.
    assert.equal(engine.recordFailure('k', LATER, T0).action, 'retry')
    await engine.start()
    assert.equal((await engine.park('s', LATER)).parked, true)
  } finally {
    await engine.close()
  }
})

test('E_CLOSED after close(); close() is idempotent', async () => {
  const engine = new RetryEngine({ stateDir: tmpDir(), resend: async () => {} })
  await engine.start()
  await engine.close()
  await engine.close()
  await assert.rejects(engine.start(), coded('E_CLOSED'))
  for (const call of [
    () => engine.park('s', LATER),
    () => engine.get('s'),
    () => engine.pending(),
    () => engine.unpark('s'),
    () => engine.resolve('s'),
    () => engine.pickProfile('openai')
  ]) {
    await assert.rejects(call(), coded('E_CLOSED'))
  }
  assert.equal((await engine.stats()).running, false)
})

test('close() before start() also closes', async () => {
  const engine = new RetryEngine({ stateDir: tmpDir() })
  await engine.close()
  await assert.rejects(engine.start(), coded('E_CLOSED'))
  await assert.rejects(engine.pending(), coded('E_CLOSED'))
})

test('E_QUEUE_FULL, and the engine keeps working', async () => {
  const engine = new RetryEngine({ stateDir: tmpDir(), queue: { maxEntries: 1 }, resend: async () => {} })
  try {
    await engine.start()
    await engine.park('a', LATER)
    await assert.rejects(engine.park('b', LATER), coded('E_QUEUE_FULL'))
    await assert.rejects(engine.park('c', LATER), coded('E_QUEUE_FULL'))
    assert.equal((await engine.pending()).length, 1)
    await engine.resolve('a')
    assert.equal((await engine.park('b', LATER)).action, 'parked')
  } finally {
    await engine.close()
  }
})

test('an unusable stateDir is E_IO on start, and nothing else breaks', async () => {
  const file = path.join(tmpDir(), 'plain-file')
  fs.writeFileSync(file, 'x')
  const engine = new RetryEngine({ stateDir: path.join(file, 'sub'), resend: async () => {} })
  try {
    await assert.rejects(engine.start(), coded('E_IO'))
    await assert.rejects(engine.pending(), coded('E_NOT_STARTED'))
    assert.equal(engine.classify('429').reason, 'rate_limit')
  } finally {
    await engine.close()
  }
})
