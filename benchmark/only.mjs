// `node benchmark/only.mjs classify,park,resend,breaker`: run only some sections of `npm run bench`
// (same env vars as benchmark/run.mjs), e.g. while working on one figure.
import { benchBreaker } from './breaker.mjs'
import { benchClassify } from './classify.mjs'
import { cleanupTempDirs, loadRetryEngine } from './lib/engine.mjs'
import { loadOldPlugin } from './lib/old-plugin.mjs'
import { benchPark } from './park.mjs'
import { benchResend } from './resend.mjs'

const env = (name, dflt) => process.env[name] ?? dflt
const which = new Set((process.argv[2] ?? 'park,resend,breaker').split(','))
const RetryEngine = loadRetryEngine()
const old = await loadOldPlugin()
try {
  if (which.has('classify')) {
    const engine = new RetryEngine({ stateDir: undefined, seed: 1 })
    benchClassify({ engine, old, ms: Number(env('BENCH_MS', 1000)) })
    await engine.close()
  }
  if (which.has('breaker')) {
    const engine = new RetryEngine({ stateDir: undefined, seed: 1 })
    await benchBreaker({ engine, ms: Number(env('BENCH_MS', 1000)) })
    await engine.close()
  }
  if (which.has('park')) {
    const sizes = env('BENCH_SIZES', '100,10000,100000,1000000').split(',').map(Number)
    await benchPark({ RetryEngine, old, sizes, ops: Number(env('BENCH_PARK_OPS', 1000)), maxMs: Number(env('BENCH_PARK_MAX_MS', 4000)) })
  }
  if (which.has('resend')) await benchResend({ RetryEngine, sessions: Number(env('BENCH_RESEND', 10_000)) })
} finally {
  cleanupTempDirs()
}
