// Keyed circuit breakers, the per-room message guard, and idle eviction.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0)
const SURFACED = '⚠️ LLM request failed (rate limited, HTTP 429). This is usually temporary — try again shortly.'
const REPLY = 'Here is the summary you asked for: three items, all done.'
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

async function withEngine (options, fn) {
  const events = []
  const engine = new RetryEngine({ seed: 3, ...options, onEvent: (e) => events.push(e) })
  try {
    await fn(engine, events)
  } finally {
    await engine.close()
  }
}

test('an unknown key is closed and allowed', async () => {
  await withEngine({}, (engine) => {
    assert.deepEqual(engine.breakerAcquire('p', T0), { permit: 'allowed' })
    const s = engine.breakerState('p', T0)
    assert.equal(s.state, 'closed')
    assert.equal(s.failures, 0)
    assert.equal(s.cooldownMs, 30_000)
  })
})

test('closed -> open after 5 consecutive failures (default), rejected until the cooldown ends', async () => {
  await withEngine({}, async (engine, events) => {
    for (let i = 0; i < 4; i++) {
      assert.equal(engine.breakerAcquire('p', T0 + i).permit, 'allowed')
      engine.breakerRecord('p', false, T0 + i)
      assert.equal(engine.breakerState('p', T0 + i).state, 'closed')
    }
    engine.breakerRecord('p', false, T0 + 4)
    const s = engine.breakerState('p', T0 + 5)
    assert.equal(s.state, 'open')
    assert.equal(s.failures, 5)
    assert.equal(s.openedAtMs, T0 + 4)
    assert.equal(s.halfOpenAtMs, T0 + 4 + 30_000)
    const p = engine.breakerAcquire('p', T0 + 10)
    assert.deepEqual(p, { permit: 'rejected', retryAtMs: T0 + 4 + 30_000 })
    assert.equal(engine.breakerAcquire('p', T0 + 4 + 29_999).permit, 'rejected')
    await settle()
    const opened = events.filter((e) => e.type === 'breaker_opened')
    assert.equal(opened.length, 1)
    assert.equal(opened[0].key, 'p')
    assert.equal(opened[0].failures, 5)
    assert.equal(opened[0].halfOpenAtMs, T0 + 4 + 30_000)
  })
})

test('a success while closed resets the failure count', async () => {
  await withEngine({}, (engine) => {
    for (let i = 0; i < 4; i++) engine.breakerRecord('p', false, T0 + i)
    engine.breakerRecord('p', true, T0 + 5)
    for (let i = 0; i < 4; i++) engine.breakerRecord('p', false, T0 + 10 + i)
    assert.equal(engine.breakerState('p', T0 + 20).state, 'closed')
    assert.equal(engine.breakerState('p', T0 + 20).failures, 4)
  })
})

test('half-open after the cooldown: one probe only; success closes', async () => {
  await withEngine({ breaker: { failureThreshold: 2, cooldownMs: 1000 } }, async (engine, events) => {
    engine.breakerRecord('p', false, T0)
    engine.breakerRecord('p', false, T0)
    assert.equal(engine.breakerState('p', T0 + 999).state, 'open')
    assert.equal(engine.breakerState('p', T0 + 1000).state, 'half_open')
    assert.deepEqual(engine.breakerAcquire('p', T0 + 1000), { permit: 'probe' })
    for (let i = 1; i <= 3; i++) {
      const other = engine.breakerAcquire('p', T0 + 1000 + i)
      assert.equal(other.permit, 'rejected', 'a second caller must not probe')
      assert.ok(other.retryAtMs > T0 + 1000 + i)
    }
    engine.breakerRecord('p', true, T0 + 1100)
    const s = engine.breakerState('p', T0 + 1101)
    assert.equal(s.state, 'closed')
    assert.equal(s.failures, 0)
    assert.equal(engine.breakerAcquire('p', T0 + 1102).permit, 'allowed')
    await settle()
    const types = events.map((e) => e.type)
    assert.deepEqual(types.filter((t) => t.startsWith('breaker_')), ['breaker_opened', 'breaker_half_open', 'breaker_closed'])
  })
})

test('a failed probe re-opens with a doubled cooldown, capped', async () => {
  await withEngine({ breaker: { failureThreshold: 1, cooldownMs: 1000, maxCooldownMs: 5000 } }, (engine) => {
    let now = T0
    engine.breakerRecord('p', false, now)
    assert.equal(engine.breakerState('p', now).cooldownMs, 1000)
    for (const expected of [2000, 4000, 5000, 5000]) {
      const s = engine.breakerState('p', now)
      now = s.halfOpenAtMs
      assert.deepEqual(engine.breakerAcquire('p', now), { permit: 'probe' })
      engine.breakerRecord('p', false, now)
      const after = engine.breakerState('p', now)
      assert.equal(after.state, 'open')
      assert.equal(after.cooldownMs, expected)
      assert.equal(after.halfOpenAtMs, now + expected)
      assert.equal(engine.breakerAcquire('p', now + expected - 1).permit, 'rejected')
    }
    // A success closes it and the cooldown starts from the base again.
    now = engine.breakerState('p', now).halfOpenAtMs
    assert.equal(engine.breakerAcquire('p', now).permit, 'probe')
    engine.breakerRecord('p', true, now)
    engine.breakerRecord('p', false, now + 1)
    assert.equal(engine.breakerState('p', now + 1).cooldownMs, 1000)
  })
})

test('a lost probe (no report within probeTimeoutMs) lets one new probe through', async () => {
  await withEngine({ breaker: { failureThreshold: 1, cooldownMs: 1000, probeTimeoutMs: 5000 } }, (engine) => {
    engine.breakerRecord('p', false, T0)
    assert.equal(engine.breakerAcquire('p', T0 + 1000).permit, 'probe')
    assert.deepEqual(engine.breakerAcquire('p', T0 + 2000), { permit: 'rejected', retryAtMs: T0 + 6000 })
    assert.equal(engine.breakerAcquire('p', T0 + 6000).permit, 'probe')
    assert.equal(engine.breakerAcquire('p', T0 + 6001).permit, 'rejected')
  })
})

test('breakers are per key', async () => {
  await withEngine({ breaker: { failureThreshold: 1 } }, (engine) => {
    engine.breakerRecord('a', false, T0)
    assert.equal(engine.breakerAcquire('a', T0 + 1).permit, 'rejected')
    assert.equal(engine.breakerAcquire('b', T0 + 1).permit, 'allowed')
  })
})

test('checkMessage: the first surfaced error passes, repeats are cancelled', async () => {
  await withEngine({}, (engine) => {
    const first = engine.checkMessage('room1', SURFACED, T0)
    assert.equal(first.cancel, false)
    for (let i = 1; i <= 5; i++) {
      assert.equal(engine.checkMessage('room1', SURFACED, T0 + i * 1000).cancel, true, `repeat ${i}`)
    }
    // Another room is not affected.
    assert.equal(engine.checkMessage('room2', SURFACED, T0 + 10).cancel, false)
  })
})

test('checkMessage: normal replies are never cancelled and close the room', async () => {
  await withEngine({}, (engine) => {
    assert.equal(engine.checkMessage('room', REPLY, T0).cancel, false)
    engine.checkMessage('room', SURFACED, T0 + 1)
    assert.equal(engine.checkMessage('room', SURFACED, T0 + 2).cancel, true)
    const reply = engine.checkMessage('room', REPLY, T0 + 3)
    assert.equal(reply.cancel, false)
    assert.equal(reply.state, 'closed')
    assert.equal(engine.checkMessage('room', SURFACED, T0 + 4).cancel, false, 'closed again: the next error passes')
    // Replies that talk about rate limits are still replies.
    const talk = 'Rate limits (HTTP 429) reset every minute; the Retry-After header says when.'
    for (let i = 0; i < 5; i++) assert.equal(engine.checkMessage('room', talk, T0 + 10 + i).cancel, false)
  })
})

test('checkMessage: after the cooldown one surfaced error passes again, then the cooldown doubles', async () => {
  await withEngine({ messageGuard: { cooldownMs: 1000 } }, (engine) => {
    assert.equal(engine.checkMessage('r', SURFACED, T0).cancel, false)
    assert.equal(engine.checkMessage('r', SURFACED, T0 + 999).cancel, true)
    assert.equal(engine.checkMessage('r', SURFACED, T0 + 1000).cancel, false, 'probe passes')
    assert.equal(engine.checkMessage('r', SURFACED, T0 + 1001).cancel, true)
    assert.equal(engine.checkMessage('r', SURFACED, T0 + 1000 + 1999).cancel, true, 'cooldown doubled to 2s')
    assert.equal(engine.checkMessage('r', SURFACED, T0 + 1000 + 2000).cancel, false)
  })
})

test('evictIdle drops idle keys in every state and keeps fresh ones', async () => {
  const options = {
    policy: { idleEvictMs: 60_000 },
    breaker: { idleEvictMs: 60_000, failureThreshold: 2, cooldownMs: 1000 },
    messageGuard: { idleEvictMs: 60_000 }
  }
  await withEngine(options, (engine) => {
    // Breakers: closed with failures, open, half-open (probe in flight).
    engine.breakerRecord('closed', false, T0)
    engine.breakerRecord('open', false, T0)
    engine.breakerRecord('open', false, T0)
    engine.breakerRecord('half', false, T0)
    engine.breakerRecord('half', false, T0)
    assert.equal(engine.breakerAcquire('half', T0 + 1000).permit, 'probe')
    // Policy keys: backing off, disabled indefinitely.
    engine.recordFailure('backoff', { status: 503, body: 'Service Unavailable' }, T0)
    engine.recordFailure('disabled', 'ValidationException: Invocation of model ID x with on-demand throughput isn\'t supported.', T0)
    assert.equal(engine.state('disabled', T0).disabled, true)
    // A room with an open guard.
    engine.checkMessage('room', SURFACED, T0)

    assert.equal(engine.evictIdle(T0 + 1000), 0, 'nothing is idle yet')
    assert.equal(engine.breakerState('open', T0 + 1000).failures, 2)

    // A fresh key touched later survives.
    engine.breakerRecord('fresh', false, T0 + 10 * 60_000)
    const evicted = engine.evictIdle(T0 + 10 * 60_000 + 1)
    assert.equal(evicted, 6) // 3 breakers, 2 policy keys, 1 room
    for (const k of ['closed', 'open', 'half']) {
      const s = engine.breakerState(k, T0 + 10 * 60_000 + 2)
      assert.equal(s.state, 'closed', k)
      assert.equal(s.failures, 0, k)
    }
    assert.equal(engine.breakerState('fresh', T0 + 10 * 60_000 + 2).failures, 1)
    assert.equal(engine.state('backoff', T0 + 10 * 60_000 + 2), null)
    assert.equal(engine.state('disabled', T0 + 10 * 60_000 + 2), null)
    assert.equal(engine.checkMessage('room', SURFACED, T0 + 10 * 60_000 + 3).cancel, false, 'room forgotten')
  })
})
