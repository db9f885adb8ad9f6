// The classifier explains itself (`rule`), follows its documented precedence, and counts hints
// from when the provider answered.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')
const engine = new RetryEngine()
after(() => engine.close())

test('every failure names the rule that decided it; non-failures have none', () => {
  assert.equal(engine.classify('rate limit exceeded').rule, 'rate-limit')
  assert.equal(engine.classify({ status: 429 }).rule, 'status-429')
  assert.equal(engine.classify('something odd').rule, 'no-match')
  assert.equal(engine.classify({ kind: 'chat_text', text: 'Rate limits are fun' }).rule, null)
})

test('precedence exceptions: parameter named timeout, 402 rate limit, 400 insufficient_quota, 429 too large', () => {
  const param = engine.classify({ status: 502, message: 'Unsupported parameter: timeout' })
  assert.deepEqual([param.reason, param.rule, param.retryable], ['format', 'rejected-parameter', false])
  assert.equal(engine.classify({ status: 402, message: 'HTTP 402: rate limit exceeded' }).reason, 'rate_limit')
  assert.equal(engine.classify({ status: 400, body: { error: { code: 'insufficient_quota', message: 'x' } } }).reason, 'billing')
  const tooLarge = engine.classify({ status: 429, message: 'Request too large for gpt-4o on tokens per min (TPM): Limit 30000, Requested 50000.' })
  assert.equal(tooLarge.reason, 'context_overflow')
  assert.equal(tooLarge.retryable, false)
})

test('a custom pattern is named by its index', () => {
  const custom = new RetryEngine({ patterns: [{ pattern: 'acme-\\d+', reason: 'quota' }] })
  try {
    assert.equal(custom.classify('ACME-7 rate limit').rule, 'custom:0')
  } finally {
    custom.close()
  }
})

test("agent_end hints count from the failed message's timestamp (the gateway's Retry-After suffix)", () => {
  const answeredAt = Date.now() - 10_000
  const got = engine.classify({
    kind: 'agent_end',
    event: {
      success: true,
      messages: [{ role: 'assistant', stopReason: 'error', timestamp: answeredAt, errorCode: '429', errorMessage: '429 Rate limit reached for requests per min; Retry-After: 30 seconds' }],
    },
  })
  assert.equal(got.reason, 'rate_limit')
  assert.equal(got.resetAtMs, answeredAt + 30_000)
  assert.ok(got.retryAfterMs <= 20_000 && got.retryAfterMs > 0, `${got.retryAfterMs}`)
})
