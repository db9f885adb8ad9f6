// `scheduler.confirm: 'run'` on a REAL OpenClaw gateway (2026.9.6) with the fake provider, an
// engine in its own process and no plugin: nobody calls resolve(); the engine asks the gateway
// how each resend's run ended (`agent.wait`). 8 sessions fail on a daily quota whose text hint
// names T1, but the provider stays down until T2 = T1 + 6 s and then names T2. So the probe at
// T1 is sent, its run fails at the provider, and the engine must learn that from the gateway:
// park the group again at the new hint (no release, no storm), probe at T2, and release the rest
// only once that probe's run succeeded. Asserted from chat.history and the provider's call log:
// 0 sessions with two replies, 0 lost, no resend before T1, exactly one provider call between T1
// and T2 (the failed probe), every session answered once after T2, nothing left pending.
//
//   node scripts/setup-openclaw.mjs     # once; or OPENCLAW_E2E_CACHE=<cache>
//   npm run build && node --test __test__/e2e/resume-run-confirm.test.mjs

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { quotaExceeded, sessionOfCall, startFakeProvider, success } from './fake-provider.mjs'
import { AT_NAMED_TIME_MS, gatewaySkip, histories, isResume, reportGoal, reportLag, RESUME, sendTasks, sessionKeys, sleep, startEngineGateway } from './resume-harness.mjs'

const skip = gatewaySkip()
const TOKEN = `resume-run-e2e-${process.pid}-SECRET`
const SESSIONS = 8
const OUTAGE_MS = 20_000
const STILL_DOWN_MS = 6_000

test("confirm 'run': a probe whose run fails again re-parks its group at the new hint; the rest go once its next run succeeds", { skip, timeout: 300_000 }, async () => {
  const fake = await startFakeProvider({ text: 'answer' })
  const { client, engine, proxy, stop } = await startEngineGateway(fake, TOKEN, { dirPrefix: 'resume-run-e2e-', seed: 7, scheduler: { maxConcurrent: 4, confirm: 'run' } })
  try {
    const keys = sessionKeys('rc', SESSIONS)
    const T1 = Date.now() + OUTAGE_MS
    const T2 = T1 + STILL_DOWN_MS
    const said = new Map()
    fake.respondWith((call) => {
      const key = sessionOfCall(call, keys)
      if (!key) return undefined
      const now = Date.now()
      if (now >= T2) return success(`answer for ${key}`)
      const until = now < T1 ? T1 : T2
      const text = `You exceeded your current quota: daily usage limit reached. Please try again in ${(Math.max(until - now, 0) / 1000).toFixed(3)}s.`
      said.set(key, text)
      return quotaExceeded({ message: text })
    })
    await sendTasks(client, keys, 'rc')
    for (const [i, key] of keys.entries()) {
      await client.request('agent.wait', { runId: `rc-${i}`, timeoutMs: 60_000 }, 70_000)
      const failed = (await client.request('chat.history', { sessionKey: key, limit: 50 })).messages?.findLast((m) => m.role === 'assistant' && m.stopReason === 'error')
      assert.ok(failed && said.has(key), `${key}: the original turn failed on the quota`)
      const agentEnd = { runId: `rc-${i}`, success: true, messages: [{ role: 'assistant', content: [], stopReason: 'error', errorMessage: `429 ${said.get(key)}`, timestamp: failed.timestamp }] }
      const out = await engine.call('park', key, agentEnd, { provider: 'fake', runId: `rc-${i}`, message: RESUME })
      assert.equal(out.parked, true, `${key} parked: ${JSON.stringify(out.why)}`)
    }

    // Idle engine first, then the transcripts (reading them while the engine resends loads the gateway).
    const t0 = Date.now()
    while (Date.now() - t0 < OUTAGE_MS + STILL_DOWN_MS + 90_000) {
      if (Date.now() > T2 && (await engine.call('pending')).length === 0 && Object.values(await histories(client, keys)).every((h) => h.replies >= 1)) break
      await sleep(200)
    }
    await sleep(6_000) // room for a late duplicate
    const sessions = await histories(client, keys)
    const resends = fake.calls.filter((c) => isResume(c) && sessionOfCall(c, keys))
    const before = (t) => resends.filter((c) => c.at < t)
    const between = resends.filter((c) => c.at >= T1 && c.at < T2)
    const after = resends.filter((c) => c.at >= T2)
    const ev = (type) => engine.events.filter((e) => e.type === type)
    process.stderr.write(
      `resume-run-confirm: resends before T1 ${before(T1).length}, between T1 and T2 ${between.map((c) => `${sessionOfCall(c, keys)}@+${c.at - T1}ms`).join(',') || 'none'}, ` +
        `after T2 ${after.length}; events resent ${ev('resent').length} resolved ${ev('resolved').length} parked ${ev('parked').length} probe_failed ${ev('probe_failed').length}\n`,
    )
    reportLag('resume-run-confirm (after T2)', after.map((c) => c.at - T2).sort((a, b) => a - b))

    assert.deepEqual(keys.filter((k) => sessions[k].replies > 1), [], 'sessions with two replies')
    assert.deepEqual(keys.filter((k) => sessions[k].replies < 1), [], 'sessions without a reply')
    assert.deepEqual(before(T1).map((c) => sessionOfCall(c, keys)), [], 'no resend before the first named time')
    assert.equal(between.length, 1, 'one probe reached the provider while it was still down, and nothing else')
    const failedProbe = sessionOfCall(between[0], keys)
    for (const key of keys) {
      const n = after.filter((c) => sessionOfCall(c, keys) === key).length
      assert.equal(n, 1, `${key}: one resend after T2`)
      assert.equal(sessions[key].resends, key === failedProbe ? 2 : 1, `${key}: resends in chat.history`)
    }
    const first = after.sort((a, b) => a.at - b.at)[0]
    const send = proxy.requests('chat.send', sessionOfCall(first, keys)).filter((f) => f.at <= first.at).at(-1)
    process.stderr.write(`resume-run-confirm: second probe's provider call ${first.at - T2} ms after T2 (chat.send ${send.at - T2} ms after it + the gateway's own ${first.at - send.at} ms)\n`)
    reportGoal('resume-run-confirm', "second probe's chat.send after T2", send.at - T2)
    assert.ok(send.at >= T2 && send.at - T2 <= AT_NAMED_TIME_MS, `the second probe's chat.send reached the gateway ${send.at - T2} ms after T2: not sent at T2`)
    assert.deepEqual(await engine.call('pending'), [], 'nothing left parked')
  } finally {
    await stop()
    await fake.close()
  }
})
