// 2. Circuit-breaker decision cost: engine.breakerAcquire + breakerRecord vs cockatiel.
import { circuitBreaker, ConsecutiveBreaker, handleAll } from 'cockatiel'
import { fmtMs, fmtRate, ratio, timeAsync, timeSync } from './lib/measure.mjs'
import { printTable } from './lib/table.mjs'

const KEYS = 10_000

export async function benchBreaker({ engine, ms }) {
  const opts = () => ({ halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) })
  const trivial = () => 1

  // One key: acquire (allowed) then record success, the closed-state fast path.
  const oursOne = timeSync(() => {
    const p = engine.breakerAcquire('provider:openai')
    if (p.permit !== 'rejected') engine.breakerRecord('provider:openai', true)
  }, { ms })
  const one = circuitBreaker(handleAll, opts())
  const theirsOne = await timeAsync(() => one.execute(trivial), { ms })

  // Many keys (a breaker per session/room): ours is keyed natively; cockatiel needs one
  // policy object per key, kept here in a Map.
  const keys = Array.from({ length: KEYS }, (_, i) => `room:${i}`)
  const oursMany = timeSync((i) => {
    const k = keys[i % KEYS]
    const p = engine.breakerAcquire(k)
    if (p.permit !== 'rejected') engine.breakerRecord(k, true)
  }, { ms })
  const policies = new Map()
  const theirsMany = await timeAsync((i) => {
    const k = keys[i % KEYS]
    let p = policies.get(k)
    if (!p) policies.set(k, (p = circuitBreaker(handleAll, opts())))
    return p.execute(trivial)
  }, { ms })

  const ns = (r) => fmtMs(1000 / r)
  printTable(
    '2. Breaker decision cost (closed breaker, call succeeds)',
    ['measure', 'ours (breakerAcquire + breakerRecord)', 'cockatiel (execute of () => 1, awaited)', 'ours vs cockatiel (>1: ours better)'],
    [
      ['one key: time per decision (goal <= 500 ns)', ns(oursOne.rate), ns(theirsOne.rate), ratio(oursOne.rate, theirsOne.rate)],
      ['one key: decisions/s', fmtRate(oursOne.rate), fmtRate(theirsOne.rate), ''],
      [`${KEYS.toLocaleString('en-US')} keys round robin: time per decision`, ns(oursMany.rate), ns(theirsMany.rate) + ' (Map of policies)', ratio(oursMany.rate, theirsMany.rate)],
    ],
  )
  console.log('Ours is two synchronous native calls (each pays the JS-to-native call and result conversion); cockatiel.execute is plain JS returning a promise.')
}
