// Constructor options: every documented option accepted, every mistake is E_INVALID_OPTION
// naming the dotted field, and options take effect.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const dirs = []
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-opts-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

async function construct (options) {
  const engine = new RetryEngine(options)
  await engine.close()
}

function assertInvalid (options, field) {
  assert.throws(() => new RetryEngine(options), (e) => {
    assert.ok(e instanceof Error, 'a real Error')
    assert.equal(e.code, 'E_INVALID_OPTION', `${field}: ${e.code} ${e.message}`)
    assert.ok(e.message.includes(`\`${field}\``), `message should name \`${field}\`: ${e.message}`)
    return true
  }, field)
}

test('no options, undefined, null and {} give a working engine', async () => {
  for (const o of [undefined, null, {}]) {
    const e = o === undefined ? new RetryEngine() : new RetryEngine(o)
    try {
      assert.equal(e.classify('429 Too Many Requests').reason, 'rate_limit')
    } finally {
      await e.close()
    }
  }
})

test('every documented option is accepted together', async () => {
  const stateDir = tmpDir()
  const reasonPolicy = { mode: 'backoff', stopAfter: 4, backoffMs: [1000, 2000], honourHint: true, alertWindowMs: 60_000, disableMs: 1000, disableMaxMs: 10_000 }
  const breaker = { failureThreshold: 3, cooldownMs: 1000, maxCooldownMs: 8000, probeTimeoutMs: 2000, idleEvictMs: 60_000, maxKeys: 10 }
  const engine = new RetryEngine({
    stateDir,
    seed: 42,
    budgetWindow: '5h',
    patterns: [{ pattern: 'slow down', reason: 'rate_limit' }],
    policy: {
      jitter: 0.2,
      idleEvictMs: 60_000,
      maxKeys: 1000,
      utcOffsetMinutes: 60,
      resetMarginMs: 500,
      reasons: { unknown: reasonPolicy, quota: { mode: 'park', budgetWindow: '1d' }, billing: { stopAfter: 2 } }
    },
    breaker,
    messageGuard: { ...breaker, failureThreshold: 1 },
    queue: { maxEntries: 50, maxAttempts: 3, importPath: path.join(stateDir, 'old', 'queue.json'), compactMinRecords: 10 },
    scheduler: { confirm: 'resolve', probeTimeoutMs: 5000, releaseSpreadMs: 10, maxConcurrent: 2, reprobeBackoffMs: 1000, maxReprobeBackoffMs: 4000, awaitTimeoutMs: 9000, resumeMessage: 'go' },
    gateway: { url: 'ws://127.0.0.1:1', token: 't', clientId: 'gateway-client', clientMode: 'backend', scopes: ['operator.read'], requestTimeoutMs: 1000, connectBudgetMs: 2000, deviceIdentity: false },
    profiles: { rateLimitBaseMs: 1000, rateLimitMaxMs: 10_000, billingBaseMs: 1000, billingMaxMs: 10_000, authCooldownsMs: [1000, 2000] },
    onEvent: () => {},
    resend: async () => {}
  })
  try {
    assert.equal(engine.classify('please slow down').reason, 'rate_limit')
    await engine.start()
    assert.equal((await engine.stats()).stateDir, stateDir)
  } finally {
    await engine.close()
  }
})

test('options that are not an object are refused', () => {
  for (const bad of [3, 'x', true]) {
    assert.throws(() => new RetryEngine(bad), (e) => e.code === 'E_INVALID_OPTION' && /options/.test(e.message))
  }
})

test('each wrong option throws E_INVALID_OPTION naming its dotted field', () => {
  const cases = [
    [{ stateDir: 3 }, 'stateDir'],
    [{ stateDir: '' }, 'stateDir'],
    [{ seed: -1 }, 'seed'],
    [{ seed: 1.5 }, 'seed'],
    [{ budgetWindow: '5q' }, 'budgetWindow'],
    [{ nope: 1 }, 'nope'],
    [{ patterns: 'x' }, 'patterns'],
    [{ patterns: [{ pattern: 'x', reason: 'zzz' }] }, 'patterns[0].reason'],
    [{ patterns: [{ reason: 'quota' }] }, 'patterns[0].pattern'],
    [{ policy: 3 }, 'policy'],
    [{ policy: { jitter: 2 } }, 'policy.jitter'],
    [{ policy: { jitter: 'lots' } }, 'policy.jitter'],
    [{ policy: { utcOffsetMinutes: 900 } }, 'policy.utcOffsetMinutes'],
    [{ policy: { resetMarginMs: -1 } }, 'policy.resetMarginMs'],
    [{ policy: { hintMarginMs: -1 } }, 'policy.hintMarginMs'],
    [{ policy: { maxKeys: 0 } }, 'policy.maxKeys'],
    [{ policy: { typo: 1 } }, 'policy.typo'],
    [{ policy: { reasons: { billng: {} } } }, 'policy.reasons.billng'],
    [{ policy: { reasons: { billing: { stopAfter: 'x' } } } }, 'policy.reasons.billing.stopAfter'],
    [{ policy: { reasons: { rate_limit: { backoffMs: [] } } } }, 'policy.reasons.rate_limit.backoffMs'],
    [{ policy: { reasons: { rate_limit: { backoffMs: [2000, 1000] } } } }, 'policy.reasons.rate_limit.backoffMs'],
    [{ policy: { reasons: { rate_limit: { backoffMs: [1000, -5] } } } }, 'policy.reasons.rate_limit.backoffMs[1]'],
    [{ policy: { reasons: { rate_limit: { mode: 'panic' } } } }, 'policy.reasons.rate_limit.mode'],
    [{ policy: { reasons: { quota: { budgetWindow: '5x' } } } }, 'policy.reasons.quota.budgetWindow'],
    [{ policy: { reasons: { timeout: { honourHint: 'yes' } } } }, 'policy.reasons.timeout.honourHint'],
    [{ breaker: { failureThreshold: 0 } }, 'breaker.failureThreshold'],
    [{ breaker: { cooldownMs: 'soon' } }, 'breaker.cooldownMs'],
    [{ breaker: { bogus: true } }, 'breaker.bogus'],
    [{ messageGuard: { cooldownMs: -1 } }, 'messageGuard.cooldownMs'],
    [{ queue: { maxEntries: 0 } }, 'queue.maxEntries'],
    [{ queue: { maxAttempts: 'x' } }, 'queue.maxAttempts'],
    [{ queue: { importPath: 7 } }, 'queue.importPath'],
    [{ scheduler: { confirm: 'maybe' } }, 'scheduler.confirm'],
    [{ scheduler: { confirm: 'run', probeTimeoutMs: 0 } }, 'scheduler.probeTimeoutMs'],
    [{ scheduler: { maxConcurrent: 0 } }, 'scheduler.maxConcurrent'],
    [{ scheduler: { releaseSpreadMs: -1 } }, 'scheduler.releaseSpreadMs'],
    [{ scheduler: { resumeMessage: '' } }, 'scheduler.resumeMessage'],
    [{ gateway: { url: 'http://127.0.0.1:1' } }, 'gateway.url'],
    [{ gateway: { scopes: [1] } }, 'gateway.scopes'],
    [{ gateway: { requestTimeoutMs: 0 } }, 'gateway.requestTimeoutMs'],
    [{ profiles: { authCooldownsMs: [] } }, 'profiles.authCooldownsMs'],
    [{ profiles: { rateLimitBaseMs: 'x' } }, 'profiles.rateLimitBaseMs'],
    [{ onEvent: 3 }, 'onEvent'],
    [{ resend: 'x' }, 'resend']
  ]
  for (const [options, field] of cases) assertInvalid(options, field)
})

test('cross-field mistakes name the field to fix', () => {
  // A stop reason must stop after at least one failure.
  assertInvalid({ policy: { reasons: { billing: { stopAfter: 0 } } } }, 'policy.reasons.billing.stopAfter')
  assertInvalid({ policy: { reasons: { rate_limit: { mode: 'stop', stopAfter: 0 } } } }, 'policy.reasons.rate_limit.stopAfter')
  // A bad custom regex is reported on the pattern.
  assertInvalid({ patterns: [{ pattern: '(unclosed', reason: 'quota' }] }, 'patterns[0].pattern')
})

test('a secret in the options never appears in an error message', () => {
  const token = 'sekret-token-0123456789'
  assert.throws(() => new RetryEngine({ gateway: { url: 'nope', token } }), (e) => {
    assert.equal(e.code, 'E_INVALID_OPTION')
    assert.ok(!e.message.includes(token), e.message)
    return true
  })
  assert.throws(() => new RetryEngine({ gateway: { token, password: 3 } }), (e) => !e.message.includes(token))
})

test('null and undefined option values mean "default"', async () => {
  await construct({ stateDir: undefined, seed: null, policy: null, queue: { maxEntries: null }, onEvent: null, resend: undefined })
})

test('the default stateDir is $OPENCLAW_STATE_DIR/retry-engine', async () => {
  const base = tmpDir()
  const saved = process.env.OPENCLAW_STATE_DIR
  process.env.OPENCLAW_STATE_DIR = base
  let engine
  try {
    engine = new RetryEngine({ resend: async () => {} })
  } finally {
    if (saved === undefined) delete process.env.OPENCLAW_STATE_DIR
    else process.env.OPENCLAW_STATE_DIR = saved
  }
  try {
    await engine.start()
    const stats = await engine.stats()
    assert.equal(stats.stateDir, path.join(base, 'retry-engine'))
    assert.ok(fs.statSync(stats.stateDir).isDirectory())
  } finally {
    await engine.close()
  }
})

test('options take effect: breaker threshold, message guard, budget window, margin', async () => {
  const T0 = Date.UTC(2026, 5, 1, 10, 0, 0)
  const engine = new RetryEngine({
    breaker: { failureThreshold: 2, cooldownMs: 5000 },
    messageGuard: { failureThreshold: 2 },
    budgetWindow: '1d',
    policy: { resetMarginMs: 0, jitter: 0 }
  })
  try {
    engine.breakerRecord('k', false, T0)
    assert.equal(engine.breakerState('k', T0).state, 'closed')
    engine.breakerRecord('k', false, T0)
    assert.deepEqual(engine.breakerAcquire('k', T0 + 1), { permit: 'rejected', retryAtMs: T0 + 5000 })
    const surfaced = '⚠️ LLM request failed (rate limited, HTTP 429). This is usually temporary — try again shortly.'
    assert.equal(engine.checkMessage('room', surfaced, T0).cancel, false)
    assert.equal(engine.checkMessage('room', surfaced, T0 + 1).cancel, false, 'threshold 2: the second passes too')
    assert.equal(engine.checkMessage('room', surfaced, T0 + 2).cancel, true)
    const d = engine.recordFailure('s', 'litellm.BudgetExceededError: Budget has been exceeded!', T0)
    assert.equal(d.reason, 'quota')
    assert.equal(d.nextAttemptAtMs, Date.UTC(2026, 5, 2))
    // A per-reason quota window wins over the top-level budgetWindow.
    const e2 = new RetryEngine({ budgetWindow: '1d', policy: { resetMarginMs: 0, reasons: { quota: { budgetWindow: '5h' } } } })
    try {
      assert.equal(e2.recordFailure('s', 'litellm.BudgetExceededError: Budget has been exceeded!', T0).nextAttemptAtMs, Date.UTC(2026, 5, 1, 15))
    } finally {
      await e2.close()
    }
  } finally {
    await engine.close()
  }
})

test('queue.maxAttempts and scheduler options reach the scheduler', async () => {
  const calls = []
  const engine = new RetryEngine({
    stateDir: tmpDir(),
    queue: { maxAttempts: 2 },
    resend: async (req) => { calls.push(req); throw new Error('still failing') }
  })
  try {
    await engine.start()
    await engine.park('s', { status: 429, headers: { 'retry-after': '1' }, body: 'rate limited' })
    const deadline = Date.now() + 10_000
    while ((await engine.pending()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(calls.length, 1, 'one resend, then the second failure reaches maxAttempts 2')
    assert.deepEqual(await engine.pending(), [])
  } finally {
    await engine.close()
  }
})
