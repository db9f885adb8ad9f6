// `npm run bench`: every figure in one process, printed as Markdown tables. No pass/fail.
// Sizes can be lowered through env vars (BENCH_SIZES=100,10000 BENCH_RESEND=2000 BENCH_MS=300).
import os from 'node:os'
import { benchBigInput } from './big-input.mjs'
import { benchBreaker } from './breaker.mjs'
import { benchClassify } from './classify.mjs'
import { cleanupTempDirs, loadRetryEngine } from './lib/engine.mjs'
import { fmtBytes, fmtMs, rss } from './lib/measure.mjs'
import { loadOldPlugin, OLD_PLUGIN } from './lib/old-plugin.mjs'
import { benchPark } from './park.mjs'
import { benchResend } from './resend.mjs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const env = (name, dflt) => process.env[name] ?? dflt
const ms = Number(env('BENCH_MS', 1000))
const sizes = env('BENCH_SIZES', '100,10000,100000,1000000').split(',').map(Number)
const parkOps = Number(env('BENCH_PARK_OPS', 1000))
const parkMaxMs = Number(env('BENCH_PARK_MAX_MS', 4000))
const resendSessions = Number(env('BENCH_RESEND', 10_000))

const started = performance.now()
const RetryEngine = loadRetryEngine()
const old = await loadOldPlugin()
const cockatiel = require('cockatiel/package.json').version
const cockatiel4 = require('cockatiel4/package.json').version

console.log('## openclaw-retry-engine benchmark\n')
console.log(
  `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, ${os.platform()} ${os.release()}; ` +
    `compared with ${OLD_PLUGIN}@${old.version}, cockatiel@${cockatiel} and cockatiel@${cockatiel4}.`,
)
console.log(
  `Sizes: timed loops ${ms} ms; park at ${sizes.join(' / ')} entries, ${parkOps} parks per mode; resend ${resendSessions} sessions.`,
)

const engine = new RetryEngine({ stateDir: undefined, seed: 1 })
try {
  benchClassify({ engine, old, ms })
  await benchBreaker({ engine, ms })
  await benchPark({ RetryEngine, old, sizes, ops: parkOps, maxMs: parkMaxMs })
  await benchResend({ RetryEngine, sessions: resendSessions })
  benchBigInput({ engine, old })
} finally {
  await engine.close()
  cleanupTempDirs()
}
console.log(`\nTotal ${fmtMs(performance.now() - started)}; process RSS at the end ${fmtBytes(rss())}.`)
