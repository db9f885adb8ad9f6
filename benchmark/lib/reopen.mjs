// `node benchmark/lib/reopen.mjs <stateDir> <maxEntries>`: open an existing state directory in
// a fresh process and print, as JSON, how long `start()` took, how much the process's RSS grew
// with the queue loaded (`rssDelta`, bytes; GC'd before and after) and the longest an API call
// (`get`) waited in the 0.5 s after `start()` (`stallMs`; `emptyStallMs` on an empty queue).
// A fresh process so the memory figure is the loaded queue alone, not what earlier sections
// left in the allocator.
import { loadRetryEngine, tempDir, cleanupTempDirs } from './engine.mjs'
import { gc, rss } from './measure.mjs'
import { longestStall } from './stall.mjs'

const [stateDir, maxEntries] = process.argv.slice(2)
const RetryEngine = loadRetryEngine()
const opts = (dir, max) => ({ stateDir: dir, seed: 1, queue: { maxEntries: max }, resend: async () => {} })
try {
  // Bring up the runtime's threads first, on an empty directory, so they are not counted.
  // Its longest API call wait after start() is the floor of that figure on this machine.
  const warm = new RetryEngine(opts(tempDir('reopen-warm'), 10))
  await warm.start()
  const emptyStallMs = await longestStall(warm)
  await warm.close()
  await gc()
  const rss0 = rss()
  const engine = new RetryEngine(opts(stateDir, Number(maxEntries)))
  const t = performance.now()
  await engine.start()
  const startMs = performance.now() - t
  const stallMs = await longestStall(engine)
  await gc()
  const rssDelta = rss() - rss0
  const parked = (await engine.stats()).parked
  await engine.close()
  console.log(JSON.stringify({ startMs, rssDelta, stallMs, emptyStallMs, parked }))
} finally {
  cleanupTempDirs()
}
