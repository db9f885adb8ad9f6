// Exactly-once resume when the gateway retries a per-minute 429 itself (one `agent_end` per
// attempt under the same runId), on a REAL OpenClaw gateway with the plugin loaded and the fake
// provider. 8 sessions; every first attempt is a short 429 (`retry-after: 1`, which the gateway
// retries inside the run). Half of the runs then succeed on the gateway's own retry: they must
// never be resent. The other half end on a long-window quota (`retry-after` to T, not retried):
// only that final failure counts, and the session is resent once, at T, not while the gateway
// still retries and not at the first attempt's 1 s hint. Asserted from chat.history and the
// provider's call log; the resend lag after T is printed.
//
//   node scripts/setup-openclaw.mjs     # once; or OPENCLAW_E2E_CACHE=<cache>
//   npm run build && npm run build:plugin && node --test __test__/e2e/resume-gateway-retry.test.mjs

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { quotaExceeded, rateLimited, sessionOfCall, startFakeProvider, success } from './fake-provider.mjs'
import { assertExactlyOnce, assertProbeOnTime, gatewaySkip, isResume, pluginIdle, reportLag, sendTasks, sessionKeys, startPluginGateway, verdict } from './resume-harness.mjs'

const skip = gatewaySkip()

const TOKEN = `resume-retry-e2e-${process.pid}-SECRET`
const SESSIONS = 8
const OUTAGE_MS = 40_000

test('per-minute 429 retried by the gateway: the run\'s own success is never resent, a final failure is resent once at T', { skip, timeout: 300_000 }, async () => {
  const fake = await startFakeProvider({ text: 'answer' })
  const { client, proxy, status, stop } = await startPluginGateway(fake, TOKEN)
  try {
    const keys = sessionKeys('gr', SESSIONS)
    const retriedOk = new Set(keys.slice(0, SESSIONS / 2))
    const T = Date.now() + OUTAGE_MS
    const seen = new Map()
    let namedAt = Infinity // the earliest time a final failure named (whole seconds: >= T)
    fake.respondWith((call) => {
      const key = sessionOfCall(call, keys)
      if (!key) return undefined
      const n = (seen.get(key) ?? 0) + 1
      seen.set(key, n)
      if (Date.now() >= T) return success(`answer for ${key}`)
      if (isResume(call)) return quotaExceeded() // a resend before T: the outage still holds
      if (n === 1 || (retriedOk.has(key) && n === 2)) return rateLimited({ retryAfter: '1' })
      if (retriedOk.has(key)) return success(`answer for ${key}`)
      const left = Math.ceil((T - Date.now()) / 1000)
      namedAt = Math.min(namedAt, Date.now() + left * 1000)
      return quotaExceeded({ message: 'You exceeded your current quota: daily usage limit reached.', headers: { 'retry-after': String(left) } })
    })
    await sendTasks(client, keys, 'gr')
    const v = await verdict({
      client,
      fake,
      keys,
      T,
      settled: pluginIdle(status),
      timeoutMs: OUTAGE_MS + 90_000,
      proxy,
      namedAt: () => namedAt,
    })
    const st = await status()
    process.stderr.write(`resume-gateway-retry: provider calls per session ${JSON.stringify(Object.fromEntries(seen))}, resends ${JSON.stringify(v.resendCalls)}, plugin counters ${JSON.stringify(st.counters)}\n`)
    reportLag('resume-gateway-retry', v.lagMs)
    assertExactlyOnce(v)
    assertProbeOnTime('resume-gateway-retry', v)
    for (const key of keys) {
      const want = retriedOk.has(key) ? 0 : 1
      assert.equal(v.resendCalls[key], want, `${key}: resends that reached the provider`)
      assert.equal(v.sessions[key].resends, want, `${key}: resends in chat.history`)
    }
    assert.equal(st.pending.length, 0, 'nothing left parked')
  } finally {
    client.close()
    await stop()
    await fake.close()
  }
})
