// Exactly-once resume on a quota whose only hint is in the text (no `retry-after` header), on a
// REAL OpenClaw gateway with the plugin loaded and the fake provider. 8 sessions fail at once on
// a long-window quota that says when to come back (`… daily usage limit reached. Please try again
// in Ns.`, or OpenAI's per-day wording with a fractional `Please try again in N.NNNs.`); the
// provider recovers at T. The plugin must count the hint from when the provider answered and
// resend each session once, not before T. Asserted from chat.history and the provider's call
// log; the resend lag after T is printed.
//
//   node scripts/setup-openclaw.mjs     # once; or OPENCLAW_E2E_CACHE=<cache>
//   npm run build && npm run build:plugin && node --test __test__/e2e/resume-text-hint.test.mjs

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { quotaExceeded, sessionOfCall, startFakeProvider, success } from './fake-provider.mjs'
import { assertExactlyOnce, assertProbeOnTime, gatewaySkip, isResume, pluginIdle, reportLag, sendTasks, sessionKeys, startPluginGateway, verdict } from './resume-harness.mjs'

const skip = gatewaySkip()
const TOKEN = `resume-text-e2e-${process.pid}-SECRET`
const SESSIONS = 8
const OUTAGE_MS = 30_000

/** The provider's quota text for a session, with the time left until T in it (no header), and that time in ms. */
function quotaText(i, T) {
  const left = Math.max(T - Date.now(), 0) / 1000
  return i % 2 === 0
    ? { text: `You exceeded your current quota: daily usage limit reached. Please try again in ${Math.ceil(left)}s.`, hintMs: Math.ceil(left) * 1000 }
    : { text: `Rate limit reached for gpt-x in organization org-e2e on requests per day (RPD): Limit 200, Used 200, Requested 1. Please try again in ${left.toFixed(3)}s.`, hintMs: Number(left.toFixed(3)) * 1000 }
}

test('quota with a text hint only: each session resent once, after T', { skip, timeout: 300_000 }, async () => {
  const fake = await startFakeProvider({ text: 'answer' })
  const { client, proxy, status, stop } = await startPluginGateway(fake, TOKEN)
  try {
    const keys = sessionKeys('th', SESSIONS)
    const T = Date.now() + OUTAGE_MS
    let namedAt = Infinity // the earliest time the provider named (T, or later for whole seconds)
    fake.respondWith((call) => {
      const key = sessionOfCall(call, keys)
      if (!key) return undefined
      if (Date.now() >= T) return success(`answer for ${key}`)
      const { text, hintMs } = quotaText(keys.indexOf(key), T)
      namedAt = Math.min(namedAt, Date.now() + hintMs)
      return quotaExceeded({ message: text })
    })
    await sendTasks(client, keys, 'th')
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
    const originals = fake.calls.filter((c) => c.at < T && !isResume(c) && sessionOfCall(c, keys)).length
    process.stderr.write(`resume-text-hint: ${originals} provider calls before T (the original turns), resends ${JSON.stringify(v.resendCalls)}; plugin counters ${JSON.stringify(st.counters)}\n`)
    reportLag('resume-text-hint', v.lagMs)
    assertExactlyOnce(v)
    assertProbeOnTime('resume-text-hint', v)
    assert.equal(originals, SESSIONS, 'one provider call per session before T (the gateway does not retry a daily quota)')
    for (const key of keys) {
      assert.equal(v.resendCalls[key], 1, `${key}: resends that reached the provider`)
      assert.equal(v.sessions[key].resends, 1, `${key}: resends in chat.history`)
    }
    assert.equal(st.pending.length, 0, 'nothing left parked')
  } finally {
    client.close()
    await stop()
    await fake.close()
  }
})
