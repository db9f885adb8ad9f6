// Throughput and startup-retry timing of OUR gateway client against a REAL OpenClaw gateway.
//
//   node scripts/setup-openclaw.mjs            # once (or OPENCLAW_E2E_CACHE=<cache with an install>)
//   npm run build
//   node examples/gateway_throughput.mjs [sequentialN=50] [concurrentN=100] [concurrency=16]
//
// Measures, over ONE engine connection:
//   - resend throughput: N `sendToSession` (chat.send) acks one after another, then N with a
//     given concurrency (sessions/s = acks/s; each ack starts a run on the fake provider);
//   - first, the same sequential loop with the harness's raw JS WebSocket client, for reference;
//   - startup retry: a sendToSession issued right after spawning the gateway, against when the
//     harness (polling connect every 250 ms) first got hello-ok;
//   - restart retry: the same after a halt+spawn while the engine was connected (shutdown
//     announced, so the client polls every <= 2 s instead of backing off towards 30 s).
// Prints one JSON object at the end.

import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFakeProvider } from '../__test__/e2e/fake-provider.mjs'
import { isAvailable, skipReason, startGateway } from '../__test__/e2e/gateway.mjs'
import { RawClient } from '../__test__/e2e/raw-client.mjs'

const require = createRequire(import.meta.url)
const { RetryEngine } = require('../index.js')

const [seqN = 50, concN = 100, concurrency = 16] = process.argv.slice(2).map(Number)
if (!isAvailable()) {
  console.error(skipReason())
  process.exit(2)
}

const token = `bench-${process.pid}-token`
const stamp = Date.now()
const dirs = []
const engines = []
let connects = 0
let disconnects = 0

function engineFor(url) {
  const stateDir = mkdtempSync(join(tmpdir(), 'gw-bench-'))
  dirs.push(stateDir)
  const engine = new RetryEngine({
    stateDir,
    onEvent: (e) => {
      if (e.type === 'gateway_connected') connects++
      if (e.type === 'gateway_disconnected') disconnects++
    },
    gateway: { url, token, connectBudgetMs: 180_000, requestTimeoutMs: 60_000 },
  })
  engines.push(engine)
  return engine
}

const rate = (n, ms) => Math.round((n / ms) * 1000 * 10) / 10
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
function latencySummary(ms) {
  const s = [...ms].sort((a, b) => a - b)
  return { p50: pct(s, 50), p90: pct(s, 90), max: s.at(-1) }
}

const fake = await startFakeProvider({ text: 'bench reply' })
const gw = await startGateway({ providerUrl: fake.url, token })
const out = { gatewayReadyMs: gw.readyMs, node: process.version }
try {
  const engine = engineFor(gw.url)
  await engine.sendToSession('agent:main:bench-warmup', 'warm up', `bench-${stamp}-warmup`)

  // Reference: the harness's raw JS client, sequential.
  const raw = await RawClient.open(gw.url)
  await raw.handshake({ token })
  let t0 = performance.now()
  for (let i = 0; i < seqN; i++) {
    await raw.request('chat.send', { sessionKey: `agent:main:bench-raw-${i}`, message: `bench raw <${i}>`, idempotencyKey: `bench-${stamp}-raw-${i}` })
  }
  let ms = performance.now() - t0
  raw.close()
  out.rawClientSequential = { n: seqN, ms: Math.round(ms), acksPerSec: rate(seqN, ms) }

  // Sequential acks (ours).
  let lat = []
  t0 = performance.now()
  for (let i = 0; i < seqN; i++) {
    const a = performance.now()
    await engine.sendToSession(`agent:main:bench-seq-${i}`, `bench seq <${i}>`, `bench-${stamp}-seq-${i}`)
    lat.push(Math.round(performance.now() - a))
  }
  ms = performance.now() - t0
  out.sequential = { n: seqN, ms: Math.round(ms), acksPerSec: rate(seqN, ms), latencyMs: latencySummary(lat) }

  // Concurrent acks (a simple pool).
  lat = []
  let next = 0
  t0 = performance.now()
  const worker = async () => {
    while (next < concN) {
      const i = next++
      const a = performance.now()
      await engine.sendToSession(`agent:main:bench-conc-${i}`, `bench conc <${i}>`, `bench-${stamp}-conc-${i}`)
      lat.push(Math.round(performance.now() - a))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  ms = performance.now() - t0
  out.concurrent = { n: concN, concurrency, ms: Math.round(ms), acksPerSec: rate(concN, ms), latencyMs: latencySummary(lat) }
  out.connectsSoFar = connects

  // Startup retry: a fresh engine (no previous connection) sends while the gateway starts.
  await gw.halt()
  gw.spawn()
  let spawnAt = Date.now()
  let ready = gw.waitReady()
  const fresh = engineFor(gw.url)
  await fresh.sendToSession('agent:main:bench-startup', 'bench startup', `bench-${stamp}-startup`)
  let engineMs = Date.now() - spawnAt
  let harnessMs = await ready
  out.startupRetry = { engineAckMs: engineMs, harnessHelloOkMs: harnessMs, engineLagMs: engineMs - harnessMs }

  // Restart retry: the connected engine sees the shutdown, then sends while it restarts.
  disconnects = 0
  await gw.halt()
  gw.spawn()
  spawnAt = Date.now()
  ready = gw.waitReady()
  await engine.sendToSession('agent:main:bench-restart', 'bench restart', `bench-${stamp}-restart`)
  engineMs = Date.now() - spawnAt
  harnessMs = await ready
  out.restartRetry = {
    engineAckMs: engineMs,
    harnessHelloOkMs: harnessMs,
    engineLagMs: engineMs - harnessMs,
    failedAttemptsReported: disconnects,
  }
} finally {
  for (const e of engines) await e.close()
  await gw.stop()
  await fake.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
}
console.log(JSON.stringify(out, null, 2))
