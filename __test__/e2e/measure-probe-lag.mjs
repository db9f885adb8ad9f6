// Where the probe's lag after T comes from, stage by stage, on a REAL OpenClaw gateway with the
// plugin loaded and the fake provider (a measurement tool, not a test). 8 sessions fail at once on
// a long-window quota whose hint points at T; the provider recovers at T. A WebSocket proxy
// between the plugin's engine and the gateway timestamps every frame, so the probe's path is cut
// into: the hint the provider gave (vs T) -> the due time the engine computed -> the engine's
// first frame (scheduler wake, connect) -> `chat.history` answered -> `chat.send` sent ->
// acknowledged -> the provider call (the gateway's own latency).
//
//   node scripts/setup-openclaw.mjs     # once; or OPENCLAW_E2E_CACHE=<cache>
//   npm run build && npm run build:plugin
//   node __test__/e2e/measure-probe-lag.mjs [--hint=frac|ceil|header] [--runs=N] [--outage-ms=N] [--json=FILE]
//
// `frac`: "Please try again in 12.345s." (exact to the ms); `ceil`: "… in 13s." (rounded up, as
// most providers write whole seconds); `header`: only `retry-after: <ceil s>` (the gateway relays
// it as `; Retry-After: N seconds`). Prints one line per run and the distribution per stage.

import { writeFileSync } from 'node:fs'
import { quotaExceeded, sessionOfCall, startFakeProvider, success } from './fake-provider.mjs'
import { freePort, isAvailable, skipReason, startGateway, trustedEntries } from './gateway.mjs'
import { packedPluginDir } from './plugin-dir.mjs'
import { RESUME, connect, isResume, sendTasks, sessionKeys, until, warmUp } from './resume-harness.mjs'
import { startWsProxy } from './ws-proxy.mjs'

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')))
const HINT = args.hint ?? 'frac'
const RUNS = Number(args.runs ?? 1)
const OUTAGE_MS = Number(args['outage-ms'] ?? 20_000)
const SESSIONS = 8
const TOKEN = `measure-lag-${process.pid}-SECRET`

if (!isAvailable()) {
  console.error(skipReason())
  process.exit(2)
}

/** The provider's answer for a session before T, and the hint it carries (ms from now). */
function quotaAnswer(T) {
  const leftMs = Math.max(T - Date.now(), 0)
  if (HINT === 'frac') {
    return { hintMs: leftMs, res: quotaExceeded({ message: `You exceeded your current quota: daily usage limit reached. Please try again in ${(leftMs / 1000).toFixed(3)}s.` }) }
  }
  const s = Math.ceil(leftMs / 1000)
  if (HINT === 'ceil') {
    return { hintMs: s * 1000, res: quotaExceeded({ message: `You exceeded your current quota: daily usage limit reached. Please try again in ${s}s.` }) }
  }
  return { hintMs: s * 1000, res: quotaExceeded({ message: 'You exceeded your current quota: daily usage limit reached.', headers: { 'retry-after': String(s) } }) }
}

async function oneRun(n) {
  const fake = await startFakeProvider({ text: 'answer' })
  const port = await freePort()
  const proxy = await startWsProxy(`ws://127.0.0.1:${port}`)
  const gw = await startGateway({
    providerUrl: fake.url,
    token: TOKEN,
    port,
    plugins: [packedPluginDir()],
    pluginEntries: trustedEntries(['retry-engine'], { resumeMessage: RESUME, gatewayUrl: proxy.url }),
  })
  const client = await connect(gw, TOKEN)
  try {
    await warmUp(client)
    const keys = sessionKeys(`ml${n}`, SESSIONS)
    const T = Date.now() + OUTAGE_MS
    const answers = new Map()
    fake.respondWith((call) => {
      const key = sessionOfCall(call, keys)
      if (!key) return undefined
      if (Date.now() >= T) return success(`answer for ${key}`)
      const a = quotaAnswer(T)
      if (!answers.has(key)) answers.set(key, { at: Date.now(), hintAt: Date.now() + a.hintMs })
      return a.res
    })
    await sendTasks(client, keys, `ml${n}`)
    const status = () => client.request('retryEngine.status', {})
    await until('every session parked', async () => (await status()).pending?.length === SESSIONS, OUTAGE_MS)
    const due = Object.fromEntries((await status()).pending.map((e) => [e.sessionKey, e.retryAtMs]))
    const stamps = {}
    for (const key of keys) {
      const h = await client.request('chat.history', { sessionKey: key, limit: 50 })
      stamps[key] = h.messages?.findLast((m) => m.role === 'assistant' && m.stopReason === 'error')?.timestamp
    }
    await until('every session resent', async () => fake.calls.filter(isResume).length >= SESSIONS && (await status()).pending?.length === 0, OUTAGE_MS + 60_000)

    const probeCall = fake.calls.filter(isResume).sort((a, b) => a.at - b.at)[0]
    const key = sessionOfCall(probeCall, keys)
    const frames = proxy.log
    const out = (m, k) => frames.find((f) => f.dir === 'out' && f.frame?.method === m && (k === undefined || f.frame.params?.sessionKey === k) && f.at >= T - OUTAGE_MS)
    const answer = (req) => req && frames.find((f) => f.dir === 'in' && f.frame?.type === 'res' && f.frame.id === req.frame.id)
    const hist = out('chat.history', key)
    const send = out('chat.send', key)
    const histRes = answer(hist)
    const ack = answer(send)
    // The connection the probe used: the last socket opened before its chat.history.
    const opens = frames.filter((f) => f.dir === 'open' && f.at <= hist.at)
    const openAt = opens.at(-1)?.at
    const connectReq = frames.find((f) => f.dir === 'out' && f.frame?.method === 'connect' && f.at >= openAt)
    const hello = answer(connectReq)
    const a = answers.get(key)
    // The probe run's own answer message: its timestamp is when the gateway began the model call.
    const probeMsgs = (await client.request('chat.history', { sessionKey: key, limit: 50 })).messages ?? []
    const replyTs = probeMsgs.findLast((m) => m.role === 'assistant' && m.stopReason !== 'error')?.timestamp
    const r = {
      run: n,
      hint: HINT,
      probe: key,
      hintVsT: a.hintAt - T, // the provider's own rounding
      msgTsVsAnswer: stamps[key] - a.at, // the failed message's timestamp vs the provider's answer
      dueVsHint: due[key] - a.hintAt, // engine: margin (and any rounding)
      dueVsT: due[key] - T,
      connectedBeforeDue: openAt < due[key],
      openVsDue: openAt - due[key],
      connectMs: hello ? hello.at - openAt : null,
      firstFrameVsDue: hist.at - due[key], // scheduler wake + connect when lazy
      historyRtt: histRes.at - hist.at,
      historyToSend: send.at - histRes.at,
      ackRtt: ack.at - send.at,
      gatewaySendToProvider: probeCall.at - send.at, // the gateway's own latency
      gatewayPrep: replyTs - send.at, // chat.send -> the run's model call began (message timestamp)
      gatewayLeg: probeCall.at - replyTs, // model call began -> the provider got it (same leg as msgTsVsAnswer)
      lag: probeCall.at - T,
      resendLags: fake.calls.filter(isResume).map((c) => c.at - T).sort((x, y) => x - y),
      earlyCalls: fake.calls.filter((c) => isResume(c) && c.at < T).length,
      load: (await import('node:os')).loadavg()[0].toFixed(2),
    }
    // The gateway's own steps for the probe's run, from the events it pushed to the engine's
    // connection: `<stream or state>:<phase>` at ms after the probe's chat.send.
    const runId = ack?.frame?.payload?.runId
    r.gatewaySteps = frames
      .filter((f) => f.dir === 'in' && f.frame?.type === 'event' && f.frame.payload?.runId === runId && f.at >= send.at)
      .map((f) => {
        const p = f.frame.payload
        const phase = p.data?.phase ?? p.phase ?? p.state ?? p.stream
        return `${f.frame.event}.${p.stream ?? p.state}:${phase}@${f.at - send.at}`
      })
      .filter((x, i, all) => all.indexOf(x) === i)
      .slice(0, 14)
    r.gatewaySteps.push(`provider@${probeCall.at - send.at}`)
    // The gateway's latency on every other resend too (chat.send seen by the proxy -> provider).
    r.gatewayLatencyAll = keys
      .map((k) => {
        const s = out('chat.send', k)
        const c = fake.calls.find((x) => isResume(x) && sessionOfCall(x, keys) === k)
        return s && c ? c.at - s.at : null
      })
      .filter((x) => x !== null)
      .sort((x, y) => x - y)
    return r
  } finally {
    client.close()
    await gw.stop()
    await proxy.close()
    await fake.close()
  }
}

const results = []
for (let n = 1; n <= RUNS; n++) {
  const r = await oneRun(n)
  results.push(r)
  console.log(JSON.stringify(r))
}
if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2))
const stages = ['hintVsT', 'msgTsVsAnswer', 'dueVsHint', 'dueVsT', 'firstFrameVsDue', 'connectMs', 'historyRtt', 'historyToSend', 'ackRtt', 'gatewaySendToProvider', 'gatewayPrep', 'gatewayLeg', 'lag']
for (const s of stages) {
  const v = results.map((r) => r[s]).filter((x) => typeof x === 'number').sort((x, y) => x - y)
  if (v.length) console.log(`${s.padEnd(22)} min ${v[0]} / median ${v[Math.floor(v.length / 2)]} / max ${v.at(-1)}  [${v.join(', ')}]`)
}
