// A scriptable OpenAI-compatible model provider for end-to-end tests, on 127.0.0.1, port 0.
//
//   const fake = await startFakeProvider({ text: 'hello' })
//   fake.url                       // "http://127.0.0.1:PORT/v1" for models.providers.*.baseUrl
//   fake.enqueue(rateLimited({ retryAfter: '2' }), rateLimited())   // next calls, in order
//   fake.setDefault(quotaExceeded())   // what calls get once the queue is empty
//   fake.recover('back again')     // mode "recovered": queue cleared, every call succeeds
//   fake.respondWith((call) => …)  // per-call script: a response, or undefined for queue/default
//   await fake.waitForCalls(3)
//   fake.calls                     // [{ n, stream, model, userText, userTexts, messages, headers, status }]
//
// The gateway sends no session id to the provider: find a session's calls by its message text
// (`userText`, the last user message that is not the gateway's internal context block).
//   await fake.close()
//
// POST /v1/chat/completions answers with the scripted response: for `stream: true` an SSE
// stream of chat.completion.chunk objects then `data: [DONE]`, otherwise one
// chat.completion JSON. GET /v1/models lists the configured model ids.

import { createServer } from 'node:http'

/** A success response that streams (or returns) `text`. */
export function success(text = 'ok') {
  return { kind: 'success', text }
}

/**
 * A short-window 429 like OpenAI's per-minute limit. Options: `retryAfter` (the `retry-after`
 * header value, default "1"), `resetRequests` / `resetTokens` (`x-ratelimit-reset-*` Go
 * durations, default "1s" / unset), `message` (the error message).
 */
export function rateLimited({ retryAfter = '1', resetRequests = '1s', resetTokens, message, headers = {} } = {}) {
  const h = { ...headers }
  if (retryAfter !== null && retryAfter !== undefined) h['retry-after'] = String(retryAfter)
  if (resetRequests) {
    h['x-ratelimit-limit-requests'] = '60'
    h['x-ratelimit-remaining-requests'] = '0'
    h['x-ratelimit-reset-requests'] = resetRequests
  }
  if (resetTokens) {
    h['x-ratelimit-limit-tokens'] = '100000'
    h['x-ratelimit-remaining-tokens'] = '0'
    h['x-ratelimit-reset-tokens'] = resetTokens
  }
  return {
    kind: 'error',
    status: 429,
    headers: h,
    body: {
      error: {
        message: message ?? 'Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 1s.',
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      },
    },
  }
}

/**
 * A long-window 429: the daily quota is spent. The gateway classifies it `rate_limit` (no billing
 * words) and does not retry it. Options: `message`, `headers`.
 */
export function quotaExceeded({ message, headers = {} } = {}) {
  return {
    kind: 'error',
    status: 429,
    headers,
    body: {
      error: {
        // No written reset ("It resets at 00:00 UTC" would be the hint): the tests' configured
        // budget window decides when a quota session is due.
        message: message ?? 'You exceeded your current quota: daily usage limit reached.',
        type: 'requests',
        param: null,
        code: null,
      },
    },
  }
}

/**
 * A 429 whose body says billing (OpenAI `insufficient_quota`). The gateway classifies it
 * `billing`, fails at once and then disables the provider's inline API key for ~10 minutes:
 * later runs on that gateway fail without calling the provider. Options: `message`, `headers`.
 */
export function billingExhausted({ message, headers = {} } = {}) {
  return {
    kind: 'error',
    status: 429,
    headers,
    body: {
      error: {
        message: message ?? 'You exceeded your current quota, please check your plan and billing details.',
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      },
    },
  }
}

/** Any HTTP error: `status`, `headers`, and `body` (an object is sent as JSON, a string as is). */
export function httpError(status, body = { error: { message: `error ${status}` } }, headers = {}) {
  return { kind: 'error', status, headers, body }
}

/**
 * The session a provider call belongs to, among `keys`: the gateway puts `session=<key> |` in
 * the Runtime line of the prompt (it sends no session id). Null when none matches.
 */
export function sessionOfCall(call, keys) {
  const text = call.userTexts.join('\n')
  return keys.find((k) => text.includes(`session=${k} |`)) ?? null
}

function textOf(content) {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) return content.map((p) => (typeof p === 'string' ? p : (p?.text ?? ''))).join('')
  return ''
}

/** Marks the context block the gateway appends as an extra user message. */
const INTERNAL_CONTEXT = '<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>'

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/**
 * Starts the fake provider. Options: `text` (default success text, "ok"), `models` (ids listed by
 * GET /v1/models, default ["fake-model"]), `chunkDelayMs` (pause between SSE chunks, default 0).
 */
export async function startFakeProvider({ text = 'ok', models = ['fake-model'], chunkDelayMs = 0 } = {}) {
  const queue = []
  let fallback = success(text)
  let mode = 'scripted'
  let responder = null
  const calls = []
  const waiters = new Set()

  const notify = () => {
    for (const w of waiters) {
      if (calls.length >= w.n) {
        waiters.delete(w)
        clearTimeout(w.timer)
        w.resolve(calls.slice())
      }
    }
  }

  async function sendSuccess(res, body, response, n) {
    const id = `chatcmpl-fake-${n}`
    const created = Math.floor(Date.now() / 1000)
    const model = body.model ?? models[0]
    const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: response.text }, finish_reason: 'stop' }],
          usage,
        }),
      )
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    const chunk = (delta, finish, extra = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`
    const pieces = response.text.match(/.{1,16}/gs) ?? ['']
    res.write(chunk({ role: 'assistant', content: '' }, null))
    for (const p of pieces) {
      if (chunkDelayMs) await new Promise((r) => setTimeout(r, chunkDelayMs))
      res.write(chunk({ content: p }, null))
    }
    res.write(chunk({}, 'stop'))
    if (body.stream_options?.include_usage) {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`)
    }
    res.write('data: [DONE]\n\n')
    res.end()
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1')
      if (req.method === 'GET' && url.pathname === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ object: 'list', data: models.map((id) => ({ id, object: 'model', owned_by: 'fake' })) }))
        return
      }
      if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: `fake provider: no route ${req.method} ${url.pathname}` } }))
        return
      }
      const raw = await readBody(req)
      let body
      try {
        body = JSON.parse(raw)
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: 'fake provider: body is not JSON' } }))
        return
      }
      const messages = Array.isArray(body.messages) ? body.messages : []
      // The gateway sends [system, user (the real text), user (internal context block)].
      const userTexts = messages.filter((m) => m.role === 'user').map((m) => textOf(m.content))
      const realUser = userTexts.filter((t) => !t.startsWith(INTERNAL_CONTEXT))
      const headers = { ...req.headers }
      delete headers.authorization
      const call = {
        n: calls.length + 1,
        at: Date.now(),
        stream: body.stream === true,
        model: body.model,
        user: body.user,
        promptCacheKey: body.prompt_cache_key,
        userText: realUser.at(-1),
        userTexts,
        messages,
        headers,
      }
      const response = mode === 'recovered' ? fallback : (responder?.(call) ?? queue.shift() ?? fallback)
      call.status = response.kind === 'success' ? 200 : response.status
      calls.push(call)
      if (response.kind === 'success') {
        await sendSuccess(res, body, response, call.n)
      } else {
        const isText = typeof response.body === 'string'
        res.writeHead(response.status, {
          'content-type': isText ? 'text/plain' : 'application/json',
          ...response.headers,
        })
        res.end(isText ? response.body : JSON.stringify(response.body))
      }
      notify()
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: `fake provider crashed: ${err.message}` } }))
    }
  })

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address()

  return {
    port,
    url: `http://127.0.0.1:${port}/v1`,
    /** Every call so far, oldest first. */
    get calls() {
      return calls
    },
    /** Number of calls so far. */
    get callCount() {
      return calls.length
    },
    /** "scripted" (queue, then default) or "recovered" (always success). */
    get mode() {
      return mode
    },
    /** Appends one-shot responses, answered in order by the next calls. */
    enqueue(...responses) {
      queue.push(...responses)
    },
    /**
     * Scripts calls one by one: `fn(call)` (the call record, before it is logged) returns the
     * response, or undefined to fall back to the queue and the default. Null removes it.
     * Not consulted in mode "recovered".
     */
    respondWith(fn) {
      responder = fn
    },
    /** Sets the response used when the queue is empty. */
    setDefault(response) {
      fallback = response
    },
    /** Switches to mode "recovered": clears the queue; every call succeeds with `recoveredText`. */
    recover(recoveredText = text) {
      queue.length = 0
      fallback = success(recoveredText)
      mode = 'recovered'
    },
    /** Back to mode "scripted" with an empty queue, no responder and the given default (default: success). */
    reset(defaultResponse = success(text)) {
      queue.length = 0
      responder = null
      fallback = defaultResponse
      mode = 'scripted'
    },
    /** Resolves with the calls once at least `n` have arrived; rejects after `timeoutMs`. */
    waitForCalls(n, timeoutMs = 30_000) {
      if (calls.length >= n) return Promise.resolve(calls.slice())
      return new Promise((resolve, reject) => {
        const w = { n, resolve }
        w.timer = setTimeout(() => {
          waiters.delete(w)
          reject(new Error(`fake provider: waited ${timeoutMs} ms for ${n} calls, got ${calls.length}`))
        }, timeoutMs)
        waiters.add(w)
      })
    },
    /** Stops the server and drops open connections. */
    close() {
      for (const w of waiters) clearTimeout(w.timer)
      waiters.clear()
      server.closeAllConnections?.()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
