// 4. Resume throughput and event-loop delay: the engine resends N parked sessions through a JS
// `resend` callback after their window resets (one probe first, then the rest).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { tempDir } from './lib/engine.mjs'
import { fmtBytes, fmtCount, fmtMs, fmtRate, gc, rss } from './lib/measure.mjs'
import { printTable } from './lib/table.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export async function benchResend({ RetryEngine, sessions, dueInMs = 1000, timeoutMs = 120_000 }) {
  const dir = tempDir('resend')
  // All N sessions parked in one provider group, due in `dueInMs`. They are put in place by the
  // engine's own import of an old-plugin queue.json (one batch), because parking them one by
  // one takes longer than the 1 s window and the early ones would fall due while the rest are
  // still being parked.
  const importPath = join(dir, 'queue.json')
  const due = Date.now() + dueInMs
  writeFileSync(
    importPath,
    JSON.stringify(
      Array.from({ length: sessions }, (_, i) => ({
        sessionKey: `agent:main:resume-${i}`,
        errorTime: due - dueInMs,
        retryAfter: due,
        errorMessage: '429 Too Many Requests',
        attempts: 0,
      })),
    ),
  )

  let calls = 0
  let firstAt = 0
  let secondAt = 0
  let lastAt = 0
  let allCalled
  const allCalledP = new Promise((r) => (allCalled = r))
  const keys = new Set()
  const resend = async (req) => {
    const now = Date.now()
    if (calls === 0) firstAt = now
    if (calls === 1) secondAt = now
    calls++
    keys.add(req.sessionKey)
    if (keys.size === sessions) {
      lastAt = now
      allCalled()
    }
  }
  const engine = new RetryEngine({
    stateDir: join(dir, 'state'),
    seed: 1,
    queue: { maxEntries: sessions + 100, importPath },
    // maxConcurrent is the burst released at once after a good probe; past it the adaptive
    // pace starts at 10/s and grows slowly (what a real provider needs, not what this measures).
    // At 10k the whole group goes in the burst, so this measures the engine's own resend and
    // durable-removal path.
    scheduler: { releaseSpreadMs: 0, maxConcurrent: sessions },
    resend,
  })
  await gc() // leave earlier sections' garbage out of the loop-delay figures
  const loop = monitorEventLoopDelay({ resolution: 1 })
  loop.enable()
  const t0 = Date.now()
  await engine.start()
  const startedAt = Date.now()
  let timer
  const timeout = new Promise((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))
  const outcome = await Promise.race([allCalledP, timeout])
  clearTimeout(timer)
  if (outcome === 'timeout') {
    loop.disable()
    await engine.close()
    throw new Error(`resend: only ${keys.size}/${sessions} sessions resent within ${timeoutMs} ms`)
  }
  let parked = (await engine.stats()).parked
  while (parked > 0 && Date.now() - lastAt < timeoutMs) {
    await sleep(10)
    parked = (await engine.stats()).parked
  }
  const emptyAt = Date.now()
  loop.disable()
  const rssAfter = rss()
  await engine.close()

  const ms = (ns) => fmtMs(ns / 1e6)
  const releaseMs = lastAt - secondAt
  printTable(
    `4. Resume ${fmtCount(sessions)} parked sessions through a JS resend callback (one group; releaseSpreadMs 0, maxConcurrent = N)`,
    ['measure', 'value'],
    [
      ['start() incl. import of the parked sessions', fmtMs(startedAt - t0)],
      ['due time → probe resend', fmtMs(firstAt - due)],
      ['probe → first released resend', fmtMs(secondAt - firstAt)],
      [`all ${fmtCount(sessions)} resent, from the due time`, fmtMs(lastAt - due)],
      ['release rate (after the probe)', fmtRate(((sessions - 1) * 1000) / Math.max(releaseMs, 1)).replace('ops', 'sessions')],
      ['sessions/s over the whole run (due → last resend)', fmtRate((sessions * 1000) / Math.max(lastAt - due, 1)).replace('ops', 'sessions')],
      ['queue empty (all removed durably), from the due time', fmtMs(emptyAt - due)],
      ['durable removal rate (goal >= 10k sessions/s): sessions / (queue empty - first released resend)', fmtRate(((sessions - 1) * 1000) / Math.max(emptyAt - secondAt, 1)).replace('ops', 'sessions')],
      ['resend callback calls (duplicates if > sessions)', fmtCount(calls)],
      ['event-loop delay p50 / p99 / max', `${ms(loop.percentile(50))} / ${ms(loop.percentile(99))} / ${ms(loop.max)}`],
      ['process RSS after', fmtBytes(rssAfter)],
    ],
  )
  console.log('Event-loop delay is sampled by perf_hooks.monitorEventLoopDelay (1 ms resolution) from start() until the queue is empty.')
}
