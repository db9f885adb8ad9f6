// The fake provider on its own (no gateway, runs in `npm test`): scripted 429s keep their
// headers and bodies, success streams SSE, recovery and call records work.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { quotaExceeded, rateLimited, startFakeProvider } from './fake-provider.mjs'

let fake
before(async () => {
  fake = await startFakeProvider({ text: 'scripted reply' })
})
after(() => fake.close())

const post = (body) =>
  fetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer secret-key' },
    body: JSON.stringify(body),
  })

test('queued 429 answers with its headers and body, then the default success', async () => {
  fake.reset()
  fake.enqueue(rateLimited({ retryAfter: '7', resetRequests: '12ms', resetTokens: '6m0s' }), quotaExceeded())
  const first = await post({ model: 'fake-model', messages: [{ role: 'user', content: 'one' }] })
  assert.equal(first.status, 429)
  assert.equal(first.headers.get('retry-after'), '7')
  assert.equal(first.headers.get('x-ratelimit-reset-requests'), '12ms')
  assert.equal(first.headers.get('x-ratelimit-reset-tokens'), '6m0s')
  assert.equal((await first.json()).error.code, 'rate_limit_exceeded')

  const second = await post({ model: 'fake-model', messages: [{ role: 'user', content: 'two' }] })
  assert.equal(second.status, 429)
  assert.match((await second.json()).error.message, /exceeded your current quota.*daily/)

  const third = await post({ model: 'fake-model', messages: [{ role: 'user', content: 'three' }] })
  assert.equal(third.status, 200)
  assert.equal((await third.json()).choices[0].message.content, 'scripted reply')
})

test('stream:true sends chat.completion.chunk SSE events that rebuild the text, then [DONE]', async () => {
  fake.reset()
  const res = await post({ model: 'fake-model', stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type'), /text\/event-stream/)
  const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''))
  assert.equal(events.at(-1), '[DONE]')
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e))
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'))
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'scripted reply')
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop')
})

test('recover() clears the queue and answers success; calls record the user text without the API key', async () => {
  fake.reset()
  const before = fake.callCount
  fake.enqueue(rateLimited())
  fake.recover('back again')
  assert.equal(fake.mode, 'recovered')
  const res = await post({
    model: 'fake-model',
    messages: [
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'the real text' },
      { role: 'user', content: '<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nctx' },
    ],
  })
  assert.equal((await res.json()).choices[0].message.content, 'back again')
  const calls = await fake.waitForCalls(before + 1, 1000)
  const call = calls.at(-1)
  assert.equal(call.userText, 'the real text')
  assert.equal(call.status, 200)
  assert.equal(call.headers.authorization, undefined)
})
