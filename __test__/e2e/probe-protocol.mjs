// Records real gateway frames for PROTOCOL-NOTES.md. Run with the system Node:
//   node __test__/e2e/probe-protocol.mjs [out.json]
// Starts the fake provider and a gateway with the probe plugin, exercises the protocol and
// writes every observation (token redacted) to out.json (default /tmp/openclaw-protocol-probe.json).
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { quotaExceeded, rateLimited, startFakeProvider, success } from './fake-provider.mjs'
import { startGateway, trustedEntries } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const out = process.argv[2] ?? '/tmp/openclaw-protocol-probe.json'
const token = 'probe-token-0123456789abcdef'
const probeOut = join(mkdtempSync(join(tmpdir(), 'probe-out-')), 'probe.jsonl')
const obs = {}
const redact = (v) => JSON.parse(JSON.stringify(v).split(token).join('<token>'))
const save = () => writeFileSync(out, JSON.stringify(redact(obs), null, 2))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const step = async (name, fn) => {
  const t0 = Date.now()
  try {
    obs[name] = await fn()
  } catch (err) {
    obs[name] = { probeError: err.message, gatewayError: err.gatewayError }
  }
  console.log(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)}s`)
  save()
}

const fake = await startFakeProvider({ text: 'hello from fake' })
const t0 = Date.now()
const gw = await startGateway({
  providerUrl: fake.url,
  token,
  plugins: [join(here, 'fixtures', 'probe-plugin')],
  pluginEntries: trustedEntries(['e2e-probe'], { outFile: probeOut }),
})
obs.readyMs = Date.now() - t0
console.log('ready', obs.readyMs, gw.root)

const c = await RawClient.open(gw.url)
await step('hello', async () => {
  const res = await c.connectFrame({ token })
  const p = structuredClone(res)
  const methods = p.payload?.features?.methods ?? []
  p.payload.features.methods = `[${methods.length} names]`
  return { challenge: c.frames[0], res: p, methods }
})

const drainEvents = (client, from) => client.frames.slice(from).filter((f) => f.type === 'event')
const waitFinal = (client, runId, timeoutMs = 60_000) =>
  client.waitEvent((f) => f.event === 'chat' && f.payload?.runId === runId && ['final', 'error', 'aborted'].includes(f.payload?.state), timeoutMs)

await step('chatSendOk', async () => {
  const from = c.frames.length
  const res = await c.call('chat.send', { sessionKey: 'agent:main:e2e-ok', message: 'say hello', idempotencyKey: 'idem-ok-1' })
  const again = await c.call('chat.send', { sessionKey: 'agent:main:e2e-ok', message: 'say hello', idempotencyKey: 'idem-ok-1' })
  let final
  try {
    final = await waitFinal(c, res.payload?.runId)
  } catch (e) {
    final = { probeError: e.message }
  }
  await sleep(1000)
  const afterDone = await c.call('chat.send', { sessionKey: 'agent:main:e2e-ok', message: 'say hello', idempotencyKey: 'idem-ok-1' })
  const wait = await c.call('agent.wait', { runId: res.payload?.runId, timeoutMs: 1000 })
  const history = await c.call('chat.history', { sessionKey: 'agent:main:e2e-ok', limit: 10 })
  return { res, again, final, afterDone, wait, history, events: drainEvents(c, from), providerCalls: fake.calls.map(({ messages, ...rest }) => ({ ...rest, messageRoles: messages.map((m) => m.role) })) }
})

await step('quota429', async () => {
  fake.reset(quotaExceeded())
  const before = fake.callCount
  const from = c.frames.length
  const res = await c.call('chat.send', { sessionKey: 'agent:main:e2e-quota', message: 'quota please', idempotencyKey: 'idem-quota-1' })
  let final
  try { final = await waitFinal(c, res.payload?.runId, 90_000) } catch (e) { final = { probeError: e.message } }
  await sleep(1500)
  const wait = await c.call('agent.wait', { runId: res.payload?.runId, timeoutMs: 1000 })
  const history = await c.call('chat.history', { sessionKey: 'agent:main:e2e-quota', limit: 10 })
  return { res, final, wait, history, providerCallsDuring: fake.callCount - before, events: drainEvents(c, from) }
})

await step('rateLimitThenOk', async () => {
  fake.reset(success('recovered text'))
  fake.enqueue(rateLimited({ retryAfter: '1', resetRequests: '1s' }), rateLimited({ retryAfter: '1' }))
  const before = fake.callCount
  const from = c.frames.length
  const res = await c.call('chat.send', { sessionKey: 'agent:main:e2e-rl', message: 'rate limited then ok', idempotencyKey: 'idem-rl-1' })
  let final
  try { final = await waitFinal(c, res.payload?.runId, 120_000) } catch (e) { final = { probeError: e.message } }
  await sleep(1500)
  return { res, final, providerCallsDuring: fake.callCount - before, callTimes: fake.calls.slice(before).map((x) => ({ at: x.at, status: x.status })), events: drainEvents(c, from).map((f) => ({ event: f.event, state: f.payload?.state, stream: f.payload?.stream, payload: JSON.stringify(f.payload).slice(0, 600) })) }
})

await step('cron', async () => {
  const status = await c.call('cron.status', {})
  const list = await c.call('cron.list', { includeDisabled: true })
  const addAsWriteScope = await c.call('cron.add', { name: 'probe', schedule: { kind: 'every', everyMs: 3600000 }, sessionTarget: 'isolated', wakeMode: 'now', payload: { kind: 'agentTurn', message: 'cron hello' }, enabled: false })
  const admin = await RawClient.open(gw.url)
  const adminHello = await admin.connectFrame({ token, scopes: ['operator.read', 'operator.write', 'operator.admin'] })
  const add = await admin.call('cron.add', { name: 'probe', schedule: { kind: 'every', everyMs: 3600000 }, sessionTarget: 'isolated', wakeMode: 'now', payload: { kind: 'agentTurn', message: 'cron hello' }, enabled: true })
  const id = add.payload?.id ?? add.payload?.job?.id
  const disable = await admin.call('cron.update', { id, patch: { enabled: false } })
  const list2 = await admin.call('cron.list', { includeDisabled: true })
  const get = await admin.call('cron.get', { id })
  const runs = await admin.call('cron.runs', { id })
  const remove = await admin.call('cron.remove', { id })
  admin.close()
  return { status, list, addAsWriteScope, adminScopes: adminHello.payload?.auth ?? adminHello.payload?.scopes ?? adminHello, add, disable, list2, get, runs, remove }
})

await step('missingScope', async () => {
  const x = await RawClient.open(gw.url)
  const hello = await x.connectFrame({ token, client: { id: 'test', version: '0', platform: 'linux', mode: 'test' } })
  const send = await x.call('chat.send', { sessionKey: 'agent:main:e2e-scope', message: 'x', idempotencyKey: 'idem-scope' })
  x.close()
  return { hello: { ok: hello.ok, error: hello.error, auth: hello.payload?.auth }, send }
})

await step('badParams', async () => {
  return await c.call('chat.send', { sessionKey: 'agent:main:x', message: 'x', idempotencyKey: 'k', bogus: 1 })
})

await step('wrongToken', async () => {
  const x = await RawClient.open(gw.url)
  const res = await x.connectFrame({ token: 'wrong-token' })
  const close = await x.waitClose(10_000).catch((e) => ({ probeError: e.message }))
  return { res, close }
})

await step('noToken', async () => {
  const x = await RawClient.open(gw.url)
  const res = await x.connectFrame({})
  const close = await x.waitClose(10_000).catch((e) => ({ probeError: e.message }))
  return { res, close }
})

await step('shutdown', async () => {
  const from = c.frames.length
  const closeP = c.waitClose(30_000)
  const stopP = gw.halt()
  const close = await closeP.catch((e) => ({ probeError: e.message }))
  const exit = await stopP
  return { events: drainEvents(c, from), close, exit }
})

await step('startup', async () => {
  gw.spawn()
  const t1 = Date.now()
  const attempts = []
  while (Date.now() - t1 < 60_000) {
    let x
    try {
      x = await RawClient.open(gw.url, 1000)
      const res = await x.connectFrame({ token })
      const close = res.ok ? null : await x.waitClose(5000).catch(() => null)
      attempts.push({ atMs: Date.now() - t1, res: res.ok ? { ok: true } : res, close })
      x.close()
      if (res.ok) break
    } catch (e) {
      attempts.push({ atMs: Date.now() - t1, openError: e.message.slice(0, 120) })
      x?.close()
    }
    await sleep(200)
  }
  const seen = new Set()
  return attempts.filter((a) => {
    const k = JSON.stringify(a.res?.error ?? a.openError ?? 'ok').replace(/\d+/g, '')
    if (seen.has(k)) return false
    seen.add(k)
    return true
  }).concat([{ totalAttempts: attempts.length, readyAfterMs: attempts.at(-1)?.atMs }])
})

await step('pluginRecords', async () => (existsSync(probeOut) ? readFileSync(probeOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []))
obs.gatewayLogTail = gw.logs().slice(-8000)
save()
await gw.stop()
await fake.close()
console.log('wrote', out)
