// 2. Circuit-breaker decision cost: engine.breakerAcquire + breakerRecord vs cockatiel 3 and 4.
import * as cockatiel3 from 'cockatiel'
import { createRequire } from 'node:module'
import { fmtMs, fmtRate, ratio, timeAsync, timeSync } from './lib/measure.mjs'
import { printTable } from './lib/table.mjs'

const require = createRequire(import.meta.url)
const KEYS = 10_000

/** cockatiel 4 (devDependency alias `cockatiel4`), or why it is absent from this run. */
async function loadCockatiel4() {
  try {
    const version = require('cockatiel4/package.json').version
    return { lib: await import('cockatiel4'), version }
  } catch (e) {
    return { why: `cockatiel 4 could not be loaded on node ${process.version}: ${e.message.split('\n')[0]}` }
  }
}

/** Time `execute(() => 1)` of one policy, and of one policy per key (a Map) over `keys`. */
async function cockatielRows({ circuitBreaker, ConsecutiveBreaker, handleAll }, keys, ms) {
  const opts = () => ({ halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) })
  const trivial = () => 1
  const one = circuitBreaker(handleAll, opts())
  const oneKey = await timeAsync(() => one.execute(trivial), { ms })
  const policies = new Map()
  const manyKeys = await timeAsync((i) => {
    const k = keys[i % KEYS]
    let p = policies.get(k)
    if (!p) policies.set(k, (p = circuitBreaker(handleAll, opts())))
    return p.execute(trivial)
  }, { ms })
  return { oneKey, manyKeys }
}

export async function benchBreaker({ engine, ms }) {
  const keys = Array.from({ length: KEYS }, (_, i) => `room:${i}`)

  // One key: acquire (allowed) then record success, the closed-state fast path.
  const oursOne = timeSync(() => {
    const p = engine.breakerAcquire('provider:openai')
    if (p.permit !== 'rejected') engine.breakerRecord('provider:openai', true)
  }, { ms })
  // Many keys (a breaker per session/room): ours is keyed natively; cockatiel needs one
  // policy object per key, kept here in a Map.
  const oursMany = timeSync((i) => {
    const k = keys[i % KEYS]
    const p = engine.breakerAcquire(k)
    if (p.permit !== 'rejected') engine.breakerRecord(k, true)
  }, { ms })
  const c3 = await cockatielRows(cockatiel3, keys, ms)
  const v3 = require('cockatiel/package.json').version
  const c4lib = await loadCockatiel4()
  const c4 = c4lib.lib ? await cockatielRows(c4lib.lib, keys, ms) : null

  const ns = (r) => fmtMs(1000 / r)
  const absent = 'absent (see below)'
  printTable(
    '2. Breaker decision cost (closed breaker, call succeeds)',
    [
      'measure',
      'ours (breakerAcquire + breakerRecord)',
      `cockatiel ${v3} (execute of () => 1, awaited)`,
      `cockatiel ${c4lib.version ?? '4'} (same)`,
      `ours vs cockatiel ${v3} (>1: ours better)`,
      `ours vs cockatiel ${c4lib.version ?? '4'}`,
    ],
    [
      ['one key: time per decision (goal <= 500 ns)', ns(oursOne.rate), ns(c3.oneKey.rate), c4 ? ns(c4.oneKey.rate) : absent, ratio(oursOne.rate, c3.oneKey.rate), c4 ? ratio(oursOne.rate, c4.oneKey.rate) : ''],
      ['one key: decisions/s', fmtRate(oursOne.rate), fmtRate(c3.oneKey.rate), c4 ? fmtRate(c4.oneKey.rate) : absent, '', ''],
      [`${KEYS.toLocaleString('en-US')} keys round robin: time per decision`, ns(oursMany.rate), ns(c3.manyKeys.rate) + ' (Map of policies)', c4 ? ns(c4.manyKeys.rate) + ' (Map of policies)' : absent, ratio(oursMany.rate, c3.manyKeys.rate), c4 ? ratio(oursMany.rate, c4.manyKeys.rate) : ''],
    ],
  )
  console.log('Ours is two synchronous native calls (each instance\'s own breakerAcquire/breakerRecord functions; `allowed` is one shared frozen object); cockatiel.execute is plain JS returning a promise.')
  if (c4lib.lib && Number(process.versions.node.split('.')[0]) < 22) {
    console.log(`cockatiel ${c4lib.version} declares engines node >= 22; it loads and runs on node ${process.version}, so it is measured here as is.`)
  }
  if (c4lib.why) console.log(c4lib.why)
}
