// How long API calls wait on an engine that just started.

/**
 * The longest an `engine.get` waited, calling it every 2 ms for `ms` (0.5 s) right after
 * `start()` resolved: anything the scheduler does at start under the queue's lock shows here.
 */
export async function longestStall(engine, ms = 500) {
  let worst = 0
  const t0 = performance.now()
  while (performance.now() - t0 < ms) {
    const t = performance.now()
    await engine.get('agent:main:stall-probe')
    worst = Math.max(worst, performance.now() - t)
    await new Promise((r) => setTimeout(r, 2))
  }
  return worst
}
