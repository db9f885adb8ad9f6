// Exactly-once resume across a gateway restart during the outage, on a REAL OpenClaw gateway
// with the plugin loaded and the fake provider. 8 sessions, outage until T. Half of them hit
// per-minute 429s that the gateway retries itself: the restart interrupts those runs, and the
// gateway re-runs interrupted turns itself under new run ids after it is back (the plugin's
// entries still name the old runs). The other half failed on a long-window quota before the
// restart (`retry-after` to T, not retried, not re-run): only they need a resend, once, at T.
// Asserted from chat.history and the provider's call log; the resend lag after T is printed.
//
//   node scripts/setup-openclaw.mjs     # once; or OPENCLAW_E2E_CACHE=<cache>
//   npm run build && npm run build:plugin && node --test __test__/e2e/resume-gateway-restart.test.mjs

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { quotaExceeded, rateLimited, sessionOfCall, startFakeProvider, success } from './fake-provider.mjs'
import { assertExactlyOnce, assertProbeOnTime, connect, gatewaySkip, isResume, pluginIdle, reportLag, sendTasks, sessionKeys, sleep, startPluginGateway, until, verdict } from './resume-harness.mjs'

const skip = gatewaySkip()

const TOKEN = `resume-restart-e2e-${process.pid}-SECRET`
const SESSIONS = 8
const OUTAGE_MS = 60_000

test('gateway restart during the outage: re-run turns are not resent, failed turns are resent once at T', { skip, timeout: 300_000 }, async () => {
  const fake = await startFakeProvider({ text: 'answer' })
  const started = await startPluginGateway(fake, TOKEN)
  const { gw, proxy } = started
  let client = started.client
  try {
    const keys = sessionKeys('rs', SESSIONS)
    const interrupted = new Set(keys.slice(0, SESSIONS / 2))
    const T = Date.now() + OUTAGE_MS
    let namedAt = Infinity // the earliest time a quota answer named (whole seconds: >= T)
    fake.respondWith((call) => {
      const key = sessionOfCall(call, keys)
      if (!key) return undefined
      if (Date.now() >= T) return success(`answer for ${key}`)
      if (interrupted.has(key) && !isResume(call)) return rateLimited({ retryAfter: '1' })
      const left = Math.ceil((T - Date.now()) / 1000)
      namedAt = Math.min(namedAt, Date.now() + left * 1000)
      return quotaExceeded({ message: 'You exceeded your current quota: daily usage limit reached.', headers: { 'retry-after': String(left) } })
    })
    await sendTasks(client, keys, 'rs')
    const status = () => client.request('retryEngine.status', {})
    // Every session parked (the quota ones final, the 429 ones while the gateway retries them).
    await until('every session parked', async () => (await status()).pending?.length === SESSIONS, 60_000)
    await sleep(3_000) // the gateway is between attempts of the interrupted runs
    const beforeRestart = fake.callCount
    client.close()
    const restartMs = await gw.restart()
    client = await connect(gw, TOKEN)
    process.stderr.write(`resume-gateway-restart: restarted in ${restartMs} ms, ${T - Date.now()} ms before T\n`)

    const v = await verdict({
      client,
      fake,
      keys,
      T,
      settled: pluginIdle(status),
      timeoutMs: Math.max(T - Date.now(), 0) + 120_000,
      proxy,
      namedAt: () => namedAt,
    })
    const st = await status()
    process.stderr.write(`resume-gateway-restart: provider calls ${beforeRestart} before the restart, ${fake.callCount} in all; resends ${JSON.stringify(v.resendCalls)}; replies ${JSON.stringify(Object.fromEntries(keys.map((k) => [k, v.sessions[k].replies])))}; plugin counters ${JSON.stringify(st.counters)}\n`)
    reportLag('resume-gateway-restart', v.lagMs)
    assertExactlyOnce(v)
    assertProbeOnTime('resume-gateway-restart', v)
    for (const key of keys) {
      // An interrupted turn is re-run by the gateway; a re-run the restart lost (acked, never
      // run) is ours to resend. Either way one reply (asserted above) and at most one resend.
      const least = interrupted.has(key) ? 0 : 1
      assert.ok(v.resendCalls[key] >= least && v.resendCalls[key] <= 1, `${key}: ${v.resendCalls[key]} resends reached the provider`)
      assert.equal(v.sessions[key].resends, v.resendCalls[key], `${key}: resends in chat.history`)
    }
    assert.equal(st.pending.length, 0, 'nothing left parked')
  } finally {
    client.close()
    await started.stop()
    await fake.close()
  }
})
