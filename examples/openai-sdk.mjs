// A plain Node script with the real `openai` SDK: a call fails with HTTP 429 (here from a local
// stand-in for the OpenAI API on 127.0.0.1), the engine reads the SDK's error (status, headers,
// body), parks the session and resends it when the provider's `retry-after` has passed. The
// resend passes `request.signal` to the SDK so `close()` can cancel it.
// Run: npm install openai && node node_modules/openclaw-retry-engine/examples/openai-sdk.mjs
import { createServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { RetryEngine, isRetryEngineError } from 'openclaw-retry-engine'

// A stand-in for api.openai.com: the first call is rate limited, later ones answer.
let calls = 0
const server = createServer((req, res) => {
  calls++
  req.resume()
  if (calls === 1) {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1', 'x-ratelimit-remaining-requests': '0' })
    res.end(JSON.stringify({ error: { message: 'Rate limit reached for requests per min (RPM). Please try again in 1s.', type: 'requests', code: 'rate_limit_exceeded' } }))
    return
  }
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({
    id: 'chatcmpl-1', object: 'chat.completion', created: 0, model: 'gpt-4o-mini',
    choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Here is the summary.' } }],
  }))
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))

const openai = new OpenAI({ baseURL: `http://127.0.0.1:${server.address().port}/v1`, apiKey: 'sk-example-not-a-real-key', maxRetries: 0 })
const ask = (content, signal) =>
  openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }, { signal })

const stateDir = mkdtempSync(join(tmpdir(), 'retry-engine-openai-'))
let answered
const answer = new Promise((resolve) => { answered = resolve })
const engine = new RetryEngine({
  stateDir,
  resend: async ({ sessionKey, message, signal }) => {
    const reply = await ask(message, signal) // a throw here counts as a failed resend
    answered(`${sessionKey}: ${reply.choices[0].message.content}`)
  },
})
await engine.start()
try {
  await ask('Summarise the report.')
} catch (err) {
  console.log('classified:', engine.classify(err))
  const outcome = await engine.park('agent:main:report', err, { provider: 'openai', message: 'Summarise the report.' })
  console.log('park:', outcome.action, outcome.why)
}
try {
  console.log('answer after the wait:', await answer)
} finally {
  await engine.close().catch((err) => console.error(isRetryEngineError(err) ? err.code : err))
  server.close()
  rmSync(stateDir, { recursive: true, force: true })
}
