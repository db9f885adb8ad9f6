// classify(): reasons, hints and non-failures for every accepted input shape.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const engine = new RetryEngine({ seed: 1 })
after(() => engine.close())

test('a plain rate-limit string classifies as rate_limit and is retryable', () => {
  const c = engine.classify('429 Too Many Requests: rate limit exceeded')
  assert.equal(c.reason, 'rate_limit')
  assert.equal(c.retryable, true)
  assert.equal(typeof c.message, 'string')
  assert.ok(c.message.length > 0)
})

test('text hints are parsed: "Please try again in 1.146s"', () => {
  const c = engine.classify('Rate limit reached for gpt-4o. Please try again in 1.146s.')
  assert.equal(c.reason, 'rate_limit')
  assert.equal(c.retryAfterMs, 1146)
})

test('an HTTP 429 with retry-after seconds gives retryAfterMs and the status', () => {
  const c = engine.classify({ status: 429, headers: { 'retry-after': '17' }, body: 'slow down' })
  assert.equal(c.reason, 'rate_limit')
  assert.equal(c.status, 429)
  assert.equal(c.retryAfterMs, 17000)
})

test('retry-after-ms wins over retry-after', () => {
  const c = engine.classify({
    status: 429,
    headers: { 'retry-after-ms': '250', 'retry-after': '30' },
    body: 'rate limited'
  })
  assert.equal(c.reason, 'rate_limit')
  assert.equal(c.retryAfterMs, 250)
})

test('header names are case-insensitive', () => {
  const c = engine.classify({ status: 429, headers: { 'Retry-After': '6' }, body: 'rate limited' })
  assert.equal(c.retryAfterMs, 6000)
})

test('an HTTP-date retry-after in the future gives a hint close to its distance', () => {
  const at = new Date(Date.now() + 120_000)
  const c = engine.classify({ status: 429, headers: { 'retry-after': at.toUTCString() }, body: 'rate limited' })
  assert.equal(c.reason, 'rate_limit')
  const hinted = c.retryAfterMs ?? (c.resetAtMs - Date.now())
  assert.ok(hinted > 100_000 && hinted <= 121_000, `hint ${hinted}`)
})

test('OpenAI x-ratelimit-reset-* Go durations: the latest exhausted one', () => {
  const c = engine.classify({
    status: 429,
    headers: {
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-reset-tokens': '6m0s',
      'x-ratelimit-remaining-tokens': '0'
    },
    body: 'Rate limit reached'
  })
  assert.equal(c.reason, 'rate_limit')
  assert.equal(c.retryAfterMs, 360_000)
})

test('a reset time written with its zone is resetAtMs; one without a zone is no hint', () => {
  const now = Date.now()
  const hour = new Date(now).getUTCHours()
  const next = new Date(now)
  next.setUTCHours((hour + 3) % 24, 0, 0, 0)
  if (next.getTime() <= now) next.setUTCDate(next.getUTCDate() + 1)
  const hh = String((hour + 3) % 24).padStart(2, '0')
  const c = engine.classify(`429 You exceeded your current quota: daily usage limit reached. It resets at ${hh}:00 UTC.`)
  assert.equal(c.reason, 'quota')
  assert.equal(c.resetAtMs, next.getTime(), 'the next such time of day')
  const dated = engine.classify('Weekly/Monthly Limit Exhausted. Your limit will reset at 2030-03-06 22:19:54 +08:00')
  assert.equal(dated.resetAtMs, Date.parse('2030-03-06T14:19:54Z'))
  const zoneless = engine.classify('Weekly/Monthly Limit Exhausted. Your limit will reset at 2030-03-06 22:19:54')
  assert.equal(zoneless.reason, 'quota')
  assert.equal(zoneless.resetAtMs, undefined, 'a time in an unknown zone could be hours early')
})

test('Gemini RetryInfo.retryDelay is read', () => {
  const c = engine.classify({
    status: 429,
    body: {
      error: {
        code: 429,
        message: 'Resource has been exhausted.',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '19s' }]
      }
    }
  })
  assert.equal(c.reason, 'rate_limit')
  assert.equal(c.retryAfterMs, 19_000)
})

test('statuses map to reasons', () => {
  const cases = [
    [{ status: 401, body: 'Unauthorized' }, 'auth'],
    [{ status: 402, body: 'Payment Required' }, 'billing'],
    [{ status: 408, body: 'Request Timeout' }, 'timeout'],
    [{ status: 502, body: 'Bad Gateway' }, 'server_error'],
    [{ status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } }, 'overloaded']
  ]
  for (const [input, reason] of cases) {
    assert.equal(engine.classify(input).reason, reason, JSON.stringify(input))
  }
})

test('non-retryable reasons say so', () => {
  for (const text of [
    'Your credit balance is too low to access the Anthropic API.',
    'This model\'s maximum context length is 4097 tokens. However, your messages resulted in 7575 tokens.'
  ]) {
    const c = engine.classify(text)
    assert.notEqual(c.reason, null, text)
    assert.equal(c.retryable, false, text)
  }
})

test('network errors by code', () => {
  assert.equal(engine.classify('Error: read ECONNRESET').reason, 'network')
  const e = new Error('connect ECONNREFUSED 127.0.0.1:443')
  e.code = 'ECONNREFUSED'
  assert.equal(engine.classify(e).reason, 'network')
})

test('a JS Error with status and headers is classified like the plain object', () => {
  const err = new Error('Rate limit exceeded')
  err.status = 429
  err.headers = { 'retry-after': '9' }
  const c = engine.classify(err)
  const plain = engine.classify({ status: 429, headers: { 'retry-after': '9' }, message: 'Rate limit exceeded' })
  assert.equal(c.reason, 'rate_limit')
  assert.equal(c.retryAfterMs, 9000)
  assert.equal(c.status, 429)
  assert.equal(c.reason, plain.reason)
  assert.equal(c.retryAfterMs, plain.retryAfterMs)
})

test('an Error with a nested cause is followed', () => {
  const cause = new Error('You exceeded your current quota, please check your plan and billing details.')
  cause.status = 429
  const err = new Error('request failed', { cause })
  assert.equal(engine.classify(err).reason, 'billing')
})

test('an agent_end event with success:true but an errored last assistant message is a failure', () => {
  const event = {
    runId: 'r1',
    success: true,
    messages: [
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        content: [],
        stopReason: 'error',
        errorMessage: '429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}'
      }
    ]
  }
  assert.equal(engine.classify(event).reason, 'rate_limit')
  assert.equal(engine.classify({ kind: 'agent_end', event }).reason, 'rate_limit')
})

test('a successful agent_end event is not a failure', () => {
  const event = {
    success: true,
    messages: [
      { role: 'user', content: 'what is a rate limit?' },
      { role: 'assistant', content: 'A rate limit (HTTP 429) caps requests per minute.', stopReason: 'stop' }
    ]
  }
  const c = engine.classify(event)
  assert.equal(c.reason, null)
  assert.equal(c.retryable, false)
})

test('an agent_end with success:false and an error string is a failure', () => {
  const c = engine.classify({ success: false, error: 'fetch failed', messages: [] })
  assert.equal(c.reason, 'network')
})

test('ordinary chat text is never a failure', () => {
  const c = engine.classify({ kind: 'chat_text', text: 'Back off when you get HTTP 429 and read the Retry-After header.' })
  assert.equal(c.reason, null)
})

test('a 2xx response without an error body is not a failure', () => {
  assert.equal(engine.classify({ status: 200, body: { ok: true } }).reason, null)
})

test('isSurfacedError: OpenClaw error copy yes, ordinary replies no', () => {
  assert.equal(engine.isSurfacedError('⚠️ LLM request failed (rate limited, HTTP 429). This is usually temporary — try again shortly.'), true)
  assert.equal(engine.isSurfacedError('Sure! Rate limits are usually per minute; 429 means too many requests.'), false)
  assert.equal(engine.isSurfacedError(''), false)
})

test('summaries do not carry secrets', () => {
  const secret = 'sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LmNbVcXz'
  const c = engine.classify({ status: 401, body: { error: { message: `Incorrect API key provided: ${secret}.`, code: 'invalid_api_key' } } })
  assert.equal(c.reason, 'auth')
  assert.ok(!c.message.includes(secret), c.message)
  const b = engine.classify({ status: 401, headers: { authorization: `Bearer ${secret}` }, body: 'Unauthorized' })
  assert.ok(!b.message.includes(secret), b.message)
})

test('custom patterns are checked before the built-ins', () => {
  const custom = new RetryEngine({ patterns: [{ pattern: 'flux capacitor (drained|empty)', reason: 'quota' }] })
  try {
    assert.equal(custom.classify('Error: flux capacitor drained').reason, 'quota')
    assert.equal(engine.classify('Error: flux capacitor drained').reason, 'unknown')
  } finally {
    custom.close()
  }
})

test('huge inputs classify without trouble', () => {
  const big = 'x'.repeat(2_000_000) + ' 429 Too Many Requests rate limit exceeded'
  assert.equal(engine.classify(big).reason, 'rate_limit')
})

test('results are plain objects with the documented keys in order, on the main thread and in a worker', async () => {
  const shapes = (e) => [
    e.classify('Rate limit reached. Please try again in 2s.'),
    e.classify('usage limit reached|1760000000'),
    e.classify('hello there'),
    e.classify(null),
    e.classify({ status: 503 }),
  ].map((c) => [Object.getPrototypeOf(c) === Object.prototype, Object.keys(c).join(',')])
  const want = [
    [true, 'reason,retryable,status,retryAfterMs,resetAtMs,message,rule'],
    [true, 'reason,retryable,status,retryAfterMs,resetAtMs,message,rule'],
    [true, 'reason,retryable,status,message,rule'],
    [true, 'reason,retryable,status,message,rule'],
    [true, 'reason,retryable,status,message,rule'],
  ]
  assert.deepEqual(shapes(engine), want)
  const { Worker } = await import('node:worker_threads')
  const indexJs = createRequire(import.meta.url).resolve('../index.js')
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { RetryEngine } = require(workerData)
    const e = new RetryEngine({ seed: 1 })
    const shapes = ${shapes.toString()}
    parentPort.postMessage({ first: shapes(e), again: shapes(e), c: e.classify('429 slow down') })
    e.close()`
  const got = await new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: indexJs })
    w.once('message', resolve)
    w.once('error', reject)
  })
  assert.deepEqual(got.first, want)
  assert.deepEqual(got.again, want)
  assert.equal(got.c.reason, 'rate_limit')
})
