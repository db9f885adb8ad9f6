// recordFailure / recordSuccess / state / reset with explicit nowMs values.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const T0 = Date.UTC(2026, 2, 10, 15, 0, 0) // 2026-03-10T15:00:00Z
const STEPS = [30_000, 60_000, 300_000, 900_000, 3_600_000]
const RATE_LIMIT = { status: 429, body: 'Too Many Requests: rate limit exceeded' }
const BILLING = 'Your credit balance is too low to access the Anthropic API.'
const AUTH = { status: 401, body: { error: { message: 'Invalid authentication credentials', type: 'authentication_error' } } }
const FORMAT = 'ValidationException: Invocation of model ID anthropic.claude-sonnet-4-20250514-v1:0 with on-demand throughput isn\'t supported. Retry your request with the ID or ARN of an inference profile that contains this model.'
const UNKNOWN = 'the flux capacitor made a strange noise'

const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

async function withEngine (options, fn) {
  const events = []
  const engine = new RetryEngine({ seed: 7, ...options, onEvent: (e) => events.push(e) })
  try {
    await fn(engine, events)
  } finally {
    await engine.close()
  }
}

test('the unknown input really is unknown (guards the other tests)', async () => {
  await withEngine({}, (e) => {
    assert.equal(e.classify(UNKNOWN).reason, 'unknown')
    assert.equal(e.classify(FORMAT).reason, 'format')
    assert.equal(e.classify(AUTH).reason, 'auth')
    assert.equal(e.classify(BILLING).reason, 'billing')
  })
})

test('rate_limit backs off 30s -> 1m -> 5m -> 15m -> 60m within ±10% jitter, stays enabled', async () => {
  await withEngine({}, (engine) => {
    let now = T0
    const steps = [...STEPS, 3_600_000, 3_600_000]
    steps.forEach((step, i) => {
      const d = engine.recordFailure('session:a', RATE_LIMIT, now)
      assert.equal(d.action, 'retry')
      assert.equal(d.reason, 'rate_limit')
      assert.equal(d.consecutiveErrors, i + 1)
      assert.equal(d.disabledUntilMs, null)
      assert.equal(d.alert, false)
      const wait = d.nextAttemptAtMs - now
      assert.ok(wait >= step * 0.9 && wait <= step * 1.1, `failure ${i + 1}: waited ${wait}, step ${step}`)
      assert.equal(d.cooldownUntilMs, d.nextAttemptAtMs)
      now = d.nextAttemptAtMs
    })
    const s = engine.state('session:a', now - 1)
    assert.equal(s.consecutiveErrors, steps.length)
    assert.equal(s.lastErrorReason, 'rate_limit')
    assert.equal(s.disabled, false)
    assert.equal(s.coolingDown, true)
  })
})

test('jitter actually varies the waits across keys (not a constant offset)', async () => {
  await withEngine({}, (engine) => {
    const waits = new Set()
    for (let i = 0; i < 20; i++) {
      waits.add(engine.recordFailure(`k${i}`, RATE_LIMIT, T0).nextAttemptAtMs - T0)
    }
    assert.ok(waits.size > 1, 'every key got the same wait')
    for (const w of waits) assert.ok(w >= 27_000 && w <= 33_000, `wait ${w}`)
  })
})

test('the same seed gives the same schedule', async () => {
  const run = async () => {
    const out = []
    await withEngine({ seed: 99 }, (engine) => {
      for (let i = 0; i < 5; i++) out.push(engine.recordFailure('s', RATE_LIMIT, T0 + i).nextAttemptAtMs)
    })
    return out
  }
  assert.deepEqual(await run(), await run())
})

test('a provider hint is honoured (never earlier, at most +10%)', async () => {
  await withEngine({}, (engine) => {
    const d = engine.recordFailure('s', { status: 429, headers: { 'retry-after': '120' }, body: 'rate limited' }, T0)
    assert.equal(d.action, 'retry')
    const wait = d.nextAttemptAtMs - T0
    assert.ok(wait >= 120_000 && wait <= 132_000, `wait ${wait}`)
    // A hint shorter than the schedule also wins.
    const e = engine.recordFailure('t', { status: 429, headers: { 'retry-after': '2' }, body: 'rate limited' }, T0)
    assert.ok(e.nextAttemptAtMs - T0 >= 2000 && e.nextAttemptAtMs - T0 <= 2200, `wait ${e.nextAttemptAtMs - T0}`)
  })
})

test('billing stops after 1 failure, alerts once per window, disable span doubles', async () => {
  await withEngine({}, async (engine, events) => {
    const d1 = engine.recordFailure('acct', BILLING, T0)
    assert.equal(d1.action, 'disable')
    assert.equal(d1.reason, 'billing')
    assert.equal(d1.alert, true)
    assert.equal(d1.disabledUntilMs, T0 + 600_000)
    const s = engine.state('acct', T0 + 1)
    assert.equal(s.disabled, true)
    assert.equal(s.lastAlertAtMs, T0)

    const d2 = engine.recordFailure('acct', BILLING, T0 + 60_000)
    assert.equal(d2.action, 'disable')
    assert.equal(d2.alert, false)
    assert.equal(d2.disabledUntilMs, T0 + 60_000 + 1_200_000)

    const d3 = engine.recordFailure('acct', BILLING, T0 + 3_600_000)
    assert.equal(d3.alert, true, 'a new alert window has begun')

    await settle()
    const alerts = events.filter((e) => e.type === 'alert')
    assert.equal(alerts.length, 2)
    assert.equal(alerts[0].key, 'acct')
    assert.equal(alerts[0].reason, 'billing')
  })
})

test('auth stops after 1 failure with one alert', async () => {
  await withEngine({}, async (engine, events) => {
    const d = engine.recordFailure('profile:x', AUTH, T0)
    assert.equal(d.action, 'disable')
    assert.equal(d.reason, 'auth')
    assert.equal(d.alert, true)
    assert.equal(engine.recordFailure('profile:x', AUTH, T0 + 1000).alert, false)
    await settle()
    assert.equal(events.filter((e) => e.type === 'alert').length, 1)
  })
})

test('format stops after 1 failure until a success or reset (no end time)', async () => {
  await withEngine({}, (engine) => {
    const d = engine.recordFailure('cron:1', FORMAT, T0)
    assert.equal(d.action, 'disable')
    assert.equal(d.reason, 'format')
    assert.equal(d.alert, true)
    assert.equal(d.disabledUntilMs, null)
    assert.equal(d.nextAttemptAtMs, null)
    const far = engine.state('cron:1', T0 + 30 * 86_400_000)
    assert.equal(far?.disabled ?? true, true)
    assert.equal(engine.recordFailure('cron:1', FORMAT, T0 + 5000).alert, false)
  })
})

test('unknown backs off and stops after 10 in a row', async () => {
  await withEngine({}, (engine) => {
    let now = T0
    for (let i = 1; i <= 9; i++) {
      const d = engine.recordFailure('job', UNKNOWN, now)
      assert.equal(d.action, 'retry', `failure ${i}`)
      assert.equal(d.reason, 'unknown')
      now = d.nextAttemptAtMs
    }
    const d = engine.recordFailure('job', UNKNOWN, now)
    assert.equal(d.action, 'disable')
    assert.equal(d.consecutiveErrors, 10)
    assert.equal(d.alert, true)
  })
})

test('a different reason restarts the stop count of unknown', async () => {
  await withEngine({}, (engine) => {
    for (let i = 0; i < 9; i++) engine.recordFailure('job', UNKNOWN, T0 + i)
    assert.equal(engine.recordFailure('job', RATE_LIMIT, T0 + 10).action, 'retry')
    const d = engine.recordFailure('job', UNKNOWN, T0 + 11)
    assert.equal(d.action, 'retry')
    assert.equal(d.consecutiveErrors, 11)
  })
})

test('quota waits until the provider reset (+250 ms margin)', async () => {
  await withEngine({}, (engine) => {
    const now = 1_800_000_000_000
    const input = {
      status: 429,
      headers: { 'anthropic-ratelimit-unified-status': 'rejected', 'anthropic-ratelimit-unified-reset': '1800003600', 'retry-after': '300' },
      body: { type: 'error', error: { type: 'rate_limit_error', message: "You've reached your usage limit for this 5-hour window." } }
    }
    const d = engine.recordFailure('s', input, now)
    assert.equal(d.reason, 'quota')
    assert.equal(d.action, 'wait')
    assert.equal(d.nextAttemptAtMs, 1_800_003_600_000 + 250)
    assert.equal(d.disabledUntilMs, null)
  })
})

test('a relative hint parks until it + policy.hintMarginMs (default 250), counted from the answer', async () => {
  const now = 1_800_000_000_000
  // The gateway's agent_end: the failed message says when it was answered (2 s before now).
  const agentEnd = { runId: 'r1', success: true, messages: [{ role: 'assistant', stopReason: 'error', timestamp: now - 2_000, errorMessage: '429 You exceeded your current quota: daily usage limit reached. Please try again in 12.345s.' }] }
  await withEngine({}, (engine) => {
    assert.equal(engine.recordFailure('s', agentEnd, now).nextAttemptAtMs, now - 2_000 + 12_345 + 250)
  })
  await withEngine({ policy: { hintMarginMs: 40 } }, (engine) => {
    assert.equal(engine.recordFailure('s', agentEnd, now).nextAttemptAtMs, now - 2_000 + 12_345 + 40)
  })
})

test('quota without a provider reset waits for the configured budget window', async () => {
  await withEngine({ budgetWindow: '1d' }, (engine) => {
    const input = 'litellm.BudgetExceededError: ExceededBudget: Crossed spend threshold. Budget has been exceeded!'
    const d = engine.recordFailure('s', input, T0)
    assert.equal(d.reason, 'quota')
    assert.equal(d.action, 'wait')
    assert.equal(d.nextAttemptAtMs, Date.UTC(2026, 2, 11) + 250)
  })
})

test('recordSuccess clears the streak; state is null for unknown keys', async () => {
  await withEngine({}, (engine) => {
    assert.equal(engine.state('nobody', T0), null)
    engine.recordFailure('s', RATE_LIMIT, T0)
    engine.recordFailure('s', RATE_LIMIT, T0 + 1)
    engine.recordSuccess('s')
    assert.equal(engine.state('s', T0 + 2), null)
    const d = engine.recordFailure('s', RATE_LIMIT, T0 + 3)
    assert.equal(d.consecutiveErrors, 1)
    assert.ok(d.nextAttemptAtMs - (T0 + 3) <= 33_000)
  })
})

test('recordSuccess re-enables a disabled key', async () => {
  await withEngine({}, (engine) => {
    engine.recordFailure('s', FORMAT, T0)
    engine.recordSuccess('s')
    const s = engine.state('s', T0 + 1)
    assert.ok(s === null || s.disabled === false)
  })
})

test('reset forgets a key and reports whether it existed', async () => {
  await withEngine({}, (engine) => {
    engine.recordFailure('s', BILLING, T0)
    assert.equal(engine.reset('s'), true)
    assert.equal(engine.state('s', T0 + 1), null)
    assert.equal(engine.reset('s'), false)
    const d = engine.recordFailure('s', RATE_LIMIT, T0 + 2)
    assert.equal(d.action, 'retry')
    assert.equal(d.consecutiveErrors, 1)
  })
})

test('keys are independent', async () => {
  await withEngine({}, (engine) => {
    engine.recordFailure('a', BILLING, T0)
    const d = engine.recordFailure('b', RATE_LIMIT, T0)
    assert.equal(d.action, 'retry')
    assert.equal(d.consecutiveErrors, 1)
  })
})

test('per-reason overrides: backoff steps, stopAfter, no jitter', async () => {
  const policy = { jitter: 0, reasons: { rate_limit: { backoffMs: [1000, 2000], stopAfter: 3 } } }
  await withEngine({ policy }, (engine) => {
    assert.equal(engine.recordFailure('s', RATE_LIMIT, T0).nextAttemptAtMs, T0 + 1000)
    assert.equal(engine.recordFailure('s', RATE_LIMIT, T0 + 10).nextAttemptAtMs, T0 + 10 + 2000)
    const d = engine.recordFailure('s', RATE_LIMIT, T0 + 20)
    assert.equal(d.action, 'disable')
    assert.equal(d.alert, true)
    // Other reasons keep their defaults.
    assert.equal(engine.recordFailure('t', { status: 502, body: 'Bad Gateway' }, T0).nextAttemptAtMs, T0 + 30_000)
  })
})

test('per-reason overrides: billing stopAfter 3, honourHint false, alertWindowMs', async () => {
  const policy = {
    jitter: 0,
    reasons: {
      billing: { stopAfter: 3 },
      rate_limit: { honourHint: false },
      auth: { alertWindowMs: 1000 }
    }
  }
  await withEngine({ policy }, (engine) => {
    assert.equal(engine.recordFailure('b', BILLING, T0).action, 'retry')
    assert.equal(engine.recordFailure('b', BILLING, T0 + 1).action, 'retry')
    assert.equal(engine.recordFailure('b', BILLING, T0 + 2).action, 'disable')

    const d = engine.recordFailure('r', { status: 429, headers: { 'retry-after': '600' }, body: 'rate limited' }, T0)
    assert.equal(d.nextAttemptAtMs, T0 + 30_000, 'hint ignored')

    assert.equal(engine.recordFailure('a', AUTH, T0).alert, true)
    assert.equal(engine.recordFailure('a', AUTH, T0 + 500).alert, false)
    assert.equal(engine.recordFailure('a', AUTH, T0 + 1500).alert, true)
  })
})

test('per-reason overrides: mode park with a budget window, mode stop for timeouts', async () => {
  const policy = {
    jitter: 0,
    reasons: {
      rate_limit: { mode: 'park', budgetWindow: '5h' },
      timeout: { mode: 'stop', stopAfter: 2, disableMs: 5000 }
    }
  }
  await withEngine({ policy }, (engine) => {
    const d = engine.recordFailure('s', RATE_LIMIT, T0) // 15:00 -> next 5h boundary is 20:00
    assert.equal(d.action, 'wait')
    assert.equal(d.nextAttemptAtMs, Date.UTC(2026, 2, 10, 20) + 250)
    const timeout = { status: 408, body: 'Request Timeout' }
    assert.equal(engine.recordFailure('t', timeout, T0).action, 'retry')
    const t2 = engine.recordFailure('t', timeout, T0 + 1)
    assert.equal(t2.action, 'disable')
    assert.equal(t2.disabledUntilMs, T0 + 1 + 5000)
  })
})

test('without nowMs the system time is used', async () => {
  await withEngine({}, (engine) => {
    const before = Date.now()
    const d = engine.recordFailure('s', RATE_LIMIT)
    const after = Date.now()
    assert.ok(d.nextAttemptAtMs >= before + 27_000 && d.nextAttemptAtMs <= after + 33_000)
  })
})
