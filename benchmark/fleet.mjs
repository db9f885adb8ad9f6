// `npm run bench:fleet`: N = 1, 2, 4, 8 engines (one process each) share one provider account
// through an outage, with and without `state.redis`. Each engine parks 2 sessions (429,
// retry-after 1 s); the provider stays down until 800 ms after the first call of the outage,
// then recovers. Printed per run: provider calls in the down window (wasted probes), good
// probes in the recovery window, total calls, and the resume lag (first good call → last
// session resumed). Needs redis-server (Debian package). No pass/fail.
import os from 'node:os'
import { startRedis } from '../__test__/helpers/redis-server.mjs'
import { cleanupFleetDirs, okCalls, sleep, startFleet, startProvider, waitFor } from '../__test__/helpers/fleet.mjs'

const sizes = (process.env.BENCH_FLEET_N ?? '1,2,4,8').split(',').map(Number)

async function run (n, redisUrl) {
  const provider = await startProvider()
  const layout = Object.fromEntries(Array.from({ length: n }, (_, i) => [`e${i}`, [`e${i}-a`, `e${i}-b`]]))
  const fleet = await startFleet(redisUrl, provider, layout)
  try {
    await waitFor(() => provider.calls.length >= 1, 'the first probe', 60_000)
    await sleep(800)
    const down = provider.calls.length
    provider.down = false
    await waitFor(() => okCalls(provider).length === 2 * n, 'every session resumed', 60_000)
    await sleep(200)
    const good = provider.calls.filter((c) => c.ok)
    const probes = fleet.flatMap((e) => e.events).filter((ev) => ev.type === 'resent' && ev.probe).length
    const lag = good.at(-1).at - good[0].at
    for (const e of fleet) await e.final()
    return { down, probes, total: provider.calls.length, lag, dup: good.length - new Set(good.map((c) => c.sessionKey)).size }
  } finally {
    for (const e of fleet) e.child.kill('SIGKILL')
    await provider.close()
    cleanupFleetDirs()
  }
}

const redis = await startRedis()
if (!redis) process.exit(1)
console.log(`## fleet benchmark (node ${process.version}, ${os.cpus().length} cores)\n`)
console.log('| engines | Redis | calls in the down window | good probes at recovery | total provider calls | sessions resent twice | resume lag |')
console.log('|---|---|---|---|---|---|---|')
try {
  for (const n of sizes) {
    for (const [label, url] of [['no', '-'], ['yes', redis.url]]) {
      const r = await run(n, url)
      console.log(`| ${n} | ${label} | ${r.down} | ${r.probes} | ${r.total} | ${r.dup} | ${r.lag} ms |`)
    }
  }
} finally {
  await redis.close()
}
