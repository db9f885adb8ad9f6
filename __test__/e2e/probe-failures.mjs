// Records how the real gateway handles provider failures (for PROTOCOL-NOTES.md):
//   node __test__/e2e/probe-failures.mjs [out.json] [--permanent]
// Steps: 429,429,ok (short window); long-window quota 429; --permanent: 429 forever (slow, ~150 s);
// a non-gateway client id; billing 429 last (it disables the provider key for ~10 min).
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { billingExhausted, quotaExceeded, rateLimited, startFakeProvider, success } from './fake-provider.mjs'
import { startGateway, trustedEntries } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const out = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : '/tmp/openclaw-failures-probe.json'
const permanent = process.argv.includes('--permanent')
const token = 'probe-token-0123456789abcdef'
const probeOut = join(mkdtempSync(join(tmpdir(), 'probe-out-')), 'probe.jsonl')
const obs = {}
const save = () => writeFileSync(out, JSON.stringify(obs, null, 2).split(token).join('<token>'))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const records = () => (existsSync(probeOut) ? readFileSync(probeOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [])

const fake = await startFakeProvider({ text: 'fine' })
const gw = await startGateway({
  providerUrl: fake.url,
  token,
  plugins: [join(here, 'fixtures', 'probe-plugin')],
  pluginEntries: trustedEntries(['e2e-probe'], { outFile: probeOut }),
})
obs.readyMs = gw.readyMs
const c = await RawClient.open(gw.url)
await c.handshake({ token })

async function scenario(name, sessionKey, script, timeoutMs = 240_000) {
  const t0 = Date.now()
  fake.reset(script.default ?? success('fine'))
  if (script.queue) fake.enqueue(...script.queue)
  const before = fake.callCount
  const recBefore = records().length
  const from = c.frames.length
  const ack = await c.call('chat.send', { sessionKey, message: `${name} message`, idempotencyKey: `idem-${name}` })
  let final
  try {
    final = await c.waitEvent((f) => f.event === 'chat' && f.payload?.runId === ack.payload?.runId && ['final', 'error', 'aborted'].includes(f.payload?.state), timeoutMs)
  } catch (e) {
    final = { probeError: e.message }
  }
  await sleep(1500)
  const wait = await c.call('agent.wait', { runId: ack.payload?.runId, timeoutMs: 1000 })
  const calls = fake.calls.slice(before).map((x) => ({ dtMs: x.at - t0, status: x.status, userText: x.userText, retryCountHeader: x.headers['x-stainless-retry-count'] }))
  obs[name] = {
    elapsedMs: Date.now() - t0,
    ack,
    final: final.payload ?? final,
    wait: wait.payload ?? wait,
    calls,
    lifecycle: c.frames.slice(from).filter((f) => f.event === 'agent' && f.payload?.stream === 'lifecycle' && f.payload?.runId === ack.payload?.runId).map((f) => f.payload.data),
    hooks: records().slice(recBefore).filter((r) => r.kind === 'agent_end' || r.kind === 'message_sending').map((r) => (r.kind === 'agent_end' ? { kind: r.kind, success: r.event.success, error: r.event.error, durationMs: r.event.durationMs, runId: r.event.runId, lastMessage: r.event.messages.at(-1), ctxTrigger: r.ctx.trigger, ctxSessionKey: r.ctx.sessionKey } : { kind: r.kind, event: r.event })),
  }
  console.log(name, obs[name].elapsedMs, 'ms, calls', calls.length)
  save()
}

await scenario('shortWindowThenOk', 'agent:main:e2e-rl', { queue: [rateLimited({ retryAfter: '1', resetRequests: '1s' }), rateLimited({ retryAfter: '2', resetRequests: '2s' })] })
await scenario('longWindowQuota', 'agent:main:e2e-quota', { default: quotaExceeded() })
if (permanent) await scenario('permanent429', 'agent:main:e2e-perm', { default: rateLimited({ retryAfter: '1' }) }, 400_000)

{
  const x = await RawClient.open(gw.url)
  const hello = await x.connectFrame({ token, client: { id: 'webchat', version: '0', platform: 'linux', mode: 'webchat' } })
  const send = hello.ok ? await x.call('chat.send', { sessionKey: 'agent:main:e2e-scope', message: 'x', idempotencyKey: 'idem-scope' }) : null
  obs.otherClientId = { helloOk: hello.ok, error: hello.error, auth: hello.payload?.auth, send, close: hello.ok ? null : await x.waitClose(5000).catch(() => null) }
  x.close()
  save()
}
await scenario('billing', 'agent:main:e2e-billing', { default: billingExhausted() })
await scenario('afterBilling', 'agent:main:e2e-after', { default: success('fine') })
await gw.stop()
await fake.close()
console.log('wrote', out)
