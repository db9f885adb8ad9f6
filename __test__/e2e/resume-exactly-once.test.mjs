// Exactly-once resume against a REAL OpenClaw gateway (Node 24, via the harness) with the fake
// provider: sessions fail on a long-window quota, one of them is continued by hand before the
// reset, the provider recovers at T. The engine resends through the gateway with
// compare-and-send (chat.history then chat.send on one connection). Every assertion is read
// from chat.history and the provider's call log: 0 sessions with two replies, 0 lost, the
// session continued by hand not resent (a `superseded` event instead), no provider call
// before T beyond the original ones.
//
//   node scripts/setup-openclaw.mjs     # once; or OPENCLAW_E2E_CACHE=<cache>
//   npm run build && node --test __test__/e2e/resume-exactly-once.test.mjs

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { quotaExceeded, startFakeProvider, success } from './fake-provider.mjs'
import { isAvailable, skipReason, startGateway } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'
import { assertProbeOnTime, sleep, summarise, until, warmUp } from './resume-harness.mjs'
import { startWsProxy } from './ws-proxy.mjs'

const { RetryEngine } = createRequire(import.meta.url)('../../index.js')
const available = isAvailable()
if (!available) process.stderr.write(`\n${'!'.repeat(78)}\n${skipReason()}\n${'!'.repeat(78)}\n\n`)

const TOKEN = `resume-e2e-${process.pid}-SECRET`
const SESSIONS = 8
const HINT_S = 20

test('quota outage, one session continued by hand, recovery at T: exactly one reply each', { skip: available ? false : skipReason(), timeout: 300_000 }, async () => {
  const fake = await startFakeProvider({ text: 'answer' })
  const gw = await startGateway({ providerUrl: fake.url, token: TOKEN })
  const proxy = await startWsProxy(gw.url) // when the engine's requests reach the gateway
  const stateDir = mkdtempSync(join(tmpdir(), 'resume-e2e-'))
  const events = []
  const engine = new RetryEngine({
    stateDir,
    seed: 5,
    onEvent: (e) => events.push({ ...e, at: Date.now() }),
    gateway: { url: proxy.url, token: TOKEN, connectBudgetMs: 90_000, requestTimeoutMs: 90_000 },
    scheduler: { maxConcurrent: 4 },
  })
  const client = await RawClient.open(gw.url)
  try {
    await client.handshake({ token: TOKEN })
    await warmUp(client)
    await engine.start()

    // The outage: every session's turn fails at once on a long-window quota.
    const keys = Array.from({ length: SESSIONS }, (_, i) => `agent:main:eo-${i}`)
    fake.reset(quotaExceeded())
    for (const [i, key] of keys.entries()) {
      await client.request('chat.send', { sessionKey: key, message: `task ${i}`, idempotencyKey: `orig-${i}` })
    }
    for (const i of keys.keys()) await client.request('agent.wait', { runId: `orig-${i}`, timeoutMs: 60_000 }, 70_000)
    const originals = fake.callCount
    // Park as the plugin would: the provider's hint (text) counted from now, the failed runId.
    const T = Date.now() + HINT_S * 1000
    for (const [i, key] of keys.entries()) {
      const failure = { status: 429, headers: { 'retry-after': String(HINT_S) }, body: 'You exceeded your current quota: daily usage limit reached.' }
      const out = await engine.park(key, failure, { provider: 'fake', runId: `orig-${i}` })
      assert.equal(out.parked, true, JSON.stringify(out))
    }
    // Before T the user continues session 0 by hand, and it succeeds.
    fake.reset(success('answer'))
    fake.enqueue(success('by hand'))
    await client.request('chat.send', { sessionKey: keys[0], message: 'continued by hand', idempotencyKey: 'hand-0' })
    await client.request('agent.wait', { runId: 'hand-0', timeoutMs: 60_000 }, 70_000)
    const beforeT = fake.callCount
    assert.equal(beforeT, originals + 1, 'only the by-hand turn reached the provider before T')

    await until('every other session to be answered', async () => {
      for (const key of keys.slice(1)) {
        const h = summarise(await client.request('chat.history', { sessionKey: key, limit: 50 }))
        if (h.replies < 1) return false
      }
      return (await engine.pending()).length === 0
    })
    await sleep(3_000) // let any duplicate show up
    const lagMs = fake.calls.slice(beforeT).map((c) => c.at - T)
    for (const [i, key] of keys.entries()) {
      const h = summarise(await client.request('chat.history', { sessionKey: key, limit: 50 }))
      assert.equal(h.replies, 1, `${key} has ${h.replies} replies`)
      assert.equal(h.resends, i === 0 ? 0 : 1, `${key} resends`)
    }
    assert.ok(Math.min(...lagMs) >= 0, `a provider call came ${-Math.min(...lagMs)} ms before T`)
    assert.equal(fake.callCount - beforeT, SESSIONS - 1, 'one provider call per resumed session')
    const superseded = events.filter((e) => e.type === 'superseded').map((e) => e.sessionKey)
    assert.deepEqual(superseded, [keys[0]])
    // Probe within 1 s after T (the hint counts from park(), just after T was taken).
    const probeCall = fake.calls.slice(beforeT).sort((a, b) => a.at - b.at)[0]
    const session = keys.find((k) => probeCall.userTexts.join('\n').includes(`session=${k} |`))
    const send = proxy.requests('chat.send', session).filter((f) => f.at <= probeCall.at).at(-1)
    assertProbeOnTime('resume-exactly-once', { probe: { session, lagMs: probeCall.at - T, namedLagMs: 0, sendLagMs: send && send.at - T, gatewayMs: send && probeCall.at - send.at } })
    process.stderr.write(`resume-exactly-once: resume lag after T (ms): ${lagMs.sort((a, b) => a - b).join(', ')}\n`)
  } finally {
    client.close?.()
    await engine.close()
    await gw.stop()
    await proxy.close()
    await fake.close()
    rmSync(stateDir, { recursive: true, force: true })
  }
})
