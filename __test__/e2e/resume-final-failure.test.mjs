// A session parked on the FIRST attempt of a run that the gateway then retries itself and ends
// on a different failure, on a REAL OpenClaw gateway (2026.9.6): an engine in its own process,
// no plugin, so the run's later attempts are never parked — the engine has only the first
// attempt's per-minute 429 (`retry-after: 1`), while the run's final failure (the gateway's own
// retry) is a long-window quota naming T. The engine must not resend at the 1 s hint, nor when
// the run has ended, but at T: compare-and-send asks the gateway how the failed run ended
// (`agent.wait`) and waits for the time its final failure names. Asserted from chat.history and
// the provider's call log: 0 resends before T, every session resent once and answered once, the
// probe sent at T.
//
//   node scripts/setup-openclaw.mjs     # once; or OPENCLAW_E2E_CACHE=<cache>
//   npm run build && node --test __test__/e2e/resume-final-failure.test.mjs

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { quotaExceeded, rateLimited, sessionOfCall, startFakeProvider, success } from './fake-provider.mjs'
import { assertExactlyOnce, assertProbeOnTime, gatewaySkip, reportLag, RESUME, sendTasks, sessionKeys, startEngineGateway, verdict } from './resume-harness.mjs'

const skip = gatewaySkip()
const TOKEN = `resume-final-e2e-${process.pid}-SECRET`
const SESSIONS = 4
const OUTAGE_MS = 40_000
const PER_MINUTE = 'Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 1s.'

test('parked on the first attempt of a run the gateway retried: resent at the time its final failure names, not at the first hint', { skip, timeout: 300_000 }, async () => {
  const fake = await startFakeProvider({ text: 'answer' })
  const { client, engine, proxy, stop } = await startEngineGateway(fake, TOKEN, { dirPrefix: 'resume-final-e2e-', seed: 11 })
  try {
    const keys = sessionKeys('ff', SESSIONS)
    const T = Date.now() + OUTAGE_MS
    const seen = new Map()
    const parks = []
    let namedAt = Infinity
    fake.respondWith((call) => {
      const key = sessionOfCall(call, keys)
      if (!key) return undefined
      const n = (seen.get(key) ?? 0) + 1
      seen.set(key, n)
      const now = Date.now()
      if (now >= T) return success(`answer for ${key}`)
      const left = Math.ceil((T - now) / 1000)
      namedAt = Math.min(namedAt, now + left * 1000)
      const quota = quotaExceeded({ message: 'You exceeded your current quota: daily usage limit reached.', headers: { 'retry-after': String(left) } })
      if (n > 1) return quota // the gateway's own retry (or a resend before T): the quota holds
      // The first attempt, parked as OpenClaw's `agent_end` for it reads (the plugin's view).
      const i = keys.indexOf(key)
      const agentEnd = {
        runId: `ff-${i}`,
        success: true,
        messages: [{ role: 'assistant', content: [], stopReason: 'error', errorMessage: `429 ${PER_MINUTE}; Retry-After: 1 seconds`, timestamp: now }],
      }
      parks.push(engine.call('park', key, agentEnd, { provider: 'fake', runId: `ff-${i}`, message: RESUME }).then((out) => [key, out]))
      return rateLimited({ retryAfter: '1', message: PER_MINUTE })
    })
    await sendTasks(client, keys, 'ff')
    const v = await verdict({
      client,
      fake,
      keys,
      T,
      settled: async () => parks.length === SESSIONS && (await engine.call('pending')).length === 0,
      timeoutMs: OUTAGE_MS + 90_000,
      proxy,
      namedAt: () => namedAt,
    })
    for (const [key, out] of await Promise.all(parks)) {
      assert.equal(out.parked, true, `${key} parked on its first attempt: ${out.why}`)
      assert.ok(out.retryAtMs < T - 20_000, `${key}: the first attempt's hint is the short one`)
    }
    const ev = (type) => engine.events.filter((e) => e.type === type).length
    process.stderr.write(`resume-final-failure: provider calls per session ${JSON.stringify(Object.fromEntries(seen))}, resends ${JSON.stringify(v.resendCalls)}, events parked ${ev('parked')} resent ${ev('resent')} resolved ${ev('resolved')} superseded ${ev('superseded')}\n`)
    reportLag('resume-final-failure', v.lagMs)
    assert.ok(keys.every((k) => seen.get(k) >= 2), 'the gateway retried every first attempt itself')
    assertExactlyOnce(v)
    assertProbeOnTime('resume-final-failure', v)
    for (const key of keys) {
      assert.equal(v.resendCalls[key], 1, `${key}: resends that reached the provider`)
      assert.equal(v.sessions[key].resends, 1, `${key}: resends in chat.history`)
    }
    assert.deepEqual(await engine.call('pending'), [], 'nothing left parked')
  } finally {
    await stop()
    await fake.close()
  }
})
