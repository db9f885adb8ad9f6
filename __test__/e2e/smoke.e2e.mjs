// Smoke test against a REAL OpenClaw gateway (spawned under the cached Node 24):
//   node scripts/setup-openclaw.mjs        # once; needs the npm registry
//   node --test __test__/e2e/smoke.e2e.mjs
// Skips loudly when the setup is missing.

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startFakeProvider } from './fake-provider.mjs'
import { isAvailable, skipReason, startGateway } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'

const available = isAvailable()
if (!available) {
  const bar = '!'.repeat(78)
  process.stderr.write(`\n${bar}\n${skipReason()}\n${bar}\n\n`)
}

describe('real OpenClaw gateway', { skip: available ? false : skipReason() }, () => {
  const token = `e2e-${process.pid}-token`
  let fake
  let gw
  let client

  before(async () => {
    fake = await startFakeProvider({ text: 'hello from the fake provider' })
    gw = await startGateway({ providerUrl: fake.url, token })
  })

  after(async () => {
    client?.close()
    await gw?.stop()
    await fake?.close()
  })

  test('handshake: connect.challenge then connect answers hello-ok with protocol 4 and operator scopes', async () => {
    client = await RawClient.open(gw.url)
    const challenge = await client.waitEvent('connect.challenge')
    assert.equal(typeof challenge.payload.nonce, 'string')
    assert.equal(typeof challenge.payload.ts, 'number')
    const hello = await client.handshake({ token })
    assert.equal(hello.type, 'hello-ok')
    assert.equal(hello.protocol, 4)
    assert.deepEqual(hello.auth.scopes, ['operator.read', 'operator.write'])
    assert.ok(hello.features.methods.includes('chat.send'))
  })

  test('chat.send is acked as started, reaches the provider once, and ends with a final chat event', async () => {
    const idempotencyKey = `smoke-${Date.now()}`
    const message = `smoke message ${idempotencyKey}`
    const ack = await client.request('chat.send', { sessionKey: 'agent:main:e2e-smoke', message, idempotencyKey })
    assert.deepEqual(ack, { runId: idempotencyKey, status: 'started' })

    const final = await client.waitEvent(
      (f) => f.event === 'chat' && f.payload.runId === ack.runId && ['final', 'error'].includes(f.payload.state),
      60_000,
    )
    assert.equal(final.payload.state, 'final', JSON.stringify(final.payload))
    assert.equal(final.payload.message.content[0].text, 'hello from the fake provider')

    // The gateway decorates the text (timestamp prefix, runtime suffix), so match by inclusion.
    const calls = fake.calls.filter((c) => c.userText?.includes(message))
    assert.equal(calls.length, 1)
    assert.equal(calls[0].stream, true)
    assert.equal(calls[0].model, 'fake-model')

    const again = await client.request('chat.send', { sessionKey: 'agent:main:e2e-smoke', message, idempotencyKey })
    assert.equal(again.runId, idempotencyKey)
    assert.equal(again.status, 'ok')
    assert.equal(fake.calls.filter((c) => c.userText?.includes(message)).length, 1)
  })

  test('a wrong token is refused with AUTH_TOKEN_MISMATCH and close code 1008', async () => {
    const bad = await RawClient.open(gw.url)
    const res = await bad.connectFrame({ token: 'not-the-token' })
    assert.equal(res.ok, false)
    assert.equal(res.error.details.code, 'AUTH_TOKEN_MISMATCH')
    const closed = await bad.waitClose()
    assert.equal(closed.code, 1008)
  })
})
