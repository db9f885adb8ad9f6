// park() calls made in one JS turn run as one batch (src/binding/park_batch.rs): each still
// gets its own result or coded error, parks of one session keep their call order, and what a
// caller is told matches what is on disk.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RetryEngine, tmpDirs } from './helpers/engines.mjs'

const LATER = { status: 429, headers: { 'retry-after': '3600' }, body: 'rate limited' }
const tmpDir = tmpDirs('batch')
const engineIn = (stateDir) => new RetryEngine({ stateDir, seed: 3, queue: { maxEntries: 1000 }, resend: async () => {} })

test('parks of one turn: each its own outcome; one session\'s parks in call order', async () => {
  const engine = engineIn(tmpDir())
  await engine.start()
  try {
    const calls = [
      engine.park('agent:main:a', LATER, { provider: 'openai' }),
      engine.park('agent:main:b', LATER),
      engine.park('agent:main:a', LATER, { provider: 'openai' }),
      engine.park('agent:main:c', { kind: 'chat_text', text: 'Let us talk about rate limits' }), // not a failure
      engine.park('agent:main:a', LATER, { provider: 'openai' })
    ]
    const [a1, b, a2, c, a3] = await Promise.all(calls)
    assert.deepEqual([a1.action, a2.action, a3.action], ['parked', 'updated', 'updated'])
    assert.deepEqual([a1.attempts, a2.attempts, a3.attempts], [1, 2, 3])
    assert.equal(b.action, 'parked')
    assert.equal(c.action, 'ignored')
    assert.equal(c.reason, null)
    assert.equal((await engine.get('agent:main:a')).attempts, 3)
  } finally {
    await engine.close()
  }
})

test('a bad argument rejects its own call only, with its code; the others park', async () => {
  const engine = engineIn(tmpDir())
  await engine.start()
  try {
    const results = await Promise.allSettled([
      engine.park('agent:main:ok-1', LATER),
      engine.park('', LATER),
      engine.park('agent:main:ok-2', LATER, 'not an object'),
      engine.park('agent:main:ok-3', LATER)
    ])
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled'])
    assert.equal(results[1].reason.code, 'E_INVALID_INPUT')
    assert.equal(results[2].reason.code, 'E_INVALID_INPUT')
    assert.equal(results[0].value.action, 'parked')
    assert.equal(results[3].value.action, 'parked')
    assert.equal((await engine.stats()).parked, 2)
  } finally {
    await engine.close()
  }
})

test('a park before start() rejects with E_NOT_STARTED, in a batch as alone', async () => {
  const engine = engineIn(tmpDir())
  try {
    const results = await Promise.allSettled([engine.park('agent:main:x', LATER), engine.park('agent:main:y', LATER)])
    assert.deepEqual(results.map((r) => r.reason?.code), ['E_NOT_STARTED', 'E_NOT_STARTED'])
  } finally {
    await engine.close()
  }
})

test('hundreds of parks in one turn are all acknowledged and all on disk after a reopen', async () => {
  const stateDir = tmpDir()
  const engine = engineIn(stateDir)
  await engine.start()
  const keys = Array.from({ length: 300 }, (_, i) => `agent:main:many-${i}`)
  const outcomes = await Promise.all(keys.map((k, i) => engine.park(k, LATER, { provider: i % 2 ? 'a' : 'b', i })))
  await engine.close()
  assert.ok(outcomes.every((o) => o.action === 'parked'))
  const reopened = engineIn(stateDir)
  await reopened.start()
  try {
    const all = await reopened.pending()
    assert.deepEqual(all.map((e) => e.sessionKey).sort(), [...keys].sort())
  } finally {
    await reopened.close()
  }
})

test('a park then close() in the same turn: parked and on disk, or rejected E_CLOSED and not', async () => {
  // The park starts first, but close() does not wait for calls in flight: whichever wins, what
  // the caller is told matches what is on disk.
  for (let round = 0; round < 5; round++) {
    const stateDir = tmpDir()
    const engine = engineIn(stateDir)
    await engine.start()
    const [outcome] = await Promise.allSettled([engine.park('agent:main:last', LATER), engine.close()])
    const reopened = engineIn(stateDir)
    await reopened.start()
    try {
      const entry = await reopened.get('agent:main:last')
      if (outcome.status === 'fulfilled') {
        assert.equal(outcome.value.action, 'parked')
        assert.equal(entry?.status, 'parked', 'acknowledged: on disk')
      } else {
        assert.equal(outcome.reason.code, 'E_CLOSED')
        assert.equal(entry, null, 'rejected: not parked')
      }
    } finally {
      await reopened.close()
    }
  }
})
