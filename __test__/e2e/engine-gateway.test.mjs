// OUR engine (the built addon, under this Node) against a REAL OpenClaw gateway (Node 24, via
// the harness) and the fake model provider. One gateway for the whole file (startup ~16 s);
// the startup and restart tests halt/respawn that same gateway.
//
//   node scripts/setup-openclaw.mjs                 # once; or OPENCLAW_E2E_CACHE=<cache>
//   npm run build && node --test __test__/e2e/engine-gateway.test.mjs
//
// Skips loudly when the gateway install is missing.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startFakeProvider } from './fake-provider.mjs'
import { isAvailable, skipReason, startGateway } from './gateway.mjs'

const require = createRequire(import.meta.url)

const available = isAvailable()
if (!available) {
  const bar = '!'.repeat(78)
  process.stderr.write(`\n${bar}\n${skipReason()}\n${bar}\n\n`)
}

const TOKEN = `gw-e2e-${process.pid}-SECRET-token`
const WRONG_TOKEN = `gw-e2e-${process.pid}-WRONG-secret`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const show = (v) => JSON.stringify(v)

describe('engine against a real OpenClaw gateway', { skip: available ? false : skipReason() }, () => {
  const { RetryEngine } = require('../../index.js')
  let fake
  let gw
  const engines = []
  const dirs = []

  /** A fresh engine with its own state dir; `events` collects everything it reports. */
  function makeEngine({ token = TOKEN, gateway = {}, ...options } = {}) {
    const stateDir = mkdtempSync(join(tmpdir(), 'engine-gw-e2e-'))
    dirs.push(stateDir)
    const events = []
    const engine = new RetryEngine({
      stateDir,
      seed: 7,
      onEvent: (e) => events.push({ ...e, at: Date.now() }),
      gateway: { url: gw.url, token, connectBudgetMs: 90_000, requestTimeoutMs: 90_000, ...gateway },
      ...options,
    })
    engines.push(engine)
    return { engine, events }
  }

  /** Provider calls whose user text contains `message`. */
  const callsFor = (message) => fake.calls.filter((c) => c.userText?.includes(message))

  /** Waits (bounded) until the provider has seen `message`; returns the matching calls. */
  async function waitForMessage(message, timeoutMs = 60_000) {
    const t0 = Date.now()
    while (Date.now() - t0 < timeoutMs) {
      const calls = callsFor(message)
      if (calls.length) return calls
      await sleep(100)
    }
    throw new Error(`the provider never saw ${JSON.stringify(message)} within ${timeoutMs} ms`)
  }

  /** Waits for the run `runId` to end, through OUR client's gatewayRequest (agent.wait). */
  async function waitRun(engine, runId) {
    const res = await engine.gatewayRequest('agent.wait', { runId, timeoutMs: 60_000 })
    assert.equal(res.runId, runId)
    // Every number in a gateway payload reaches JS as a plain number (never a BigInt).
    assert.doesNotThrow(() => JSON.stringify(res))
    return res
  }

  before(async () => {
    fake = await startFakeProvider({ text: 'hello from the fake provider' })
    gw = await startGateway({ providerUrl: fake.url, token: TOKEN })
    console.log(`# gateway ready in ${gw.readyMs} ms`)
  })

  after(async () => {
    for (const e of engines) await e.close()
    await gw?.stop()
    await fake?.close()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  test('handshake + sendToSession: acked as started, the provider gets the message once', async () => {
    const { engine, events } = makeEngine()
    const message = `e2e hello ${Date.now()}`
    const ack = await engine.sendToSession('agent:main:e2e-send', message, 'idem-send-1')
    assert.deepEqual(ack, { runId: 'idem-send-1', status: 'started' })
    assert.equal(events.filter((e) => e.type === 'gateway_connected').length, 1)
    const end = await waitRun(engine, 'idem-send-1')
    assert.equal(end.status, 'ok', show(end))
    assert.equal(callsFor(message).length, 1)
  })

  test('idempotent resend: the same idempotencyKey twice runs once', async () => {
    const { engine, events } = makeEngine()
    const message = `e2e idem ${Date.now()}`
    const key = `idem-twice-${process.pid}`
    const first = await engine.sendToSession('agent:main:e2e-idem', message, key)
    assert.deepEqual(first, { runId: key, status: 'started' })
    const second = await engine.sendToSession('agent:main:e2e-idem', message, key)
    assert.equal(second.runId, key)
    assert.ok(['in_flight', 'ok'].includes(second.status), `second ack: ${JSON.stringify(second)}`)
    await waitRun(engine, key)
    const third = await engine.sendToSession('agent:main:e2e-idem', message, key)
    assert.equal(third.status, 'ok')
    assert.equal(callsFor(message).length, 1, 'the provider ran the key more than once')
    // One connection served all four requests.
    assert.equal(events.filter((e) => e.type === 'gateway_connected').length, 1)
  })

  test('park -> resume through the default gateway resender (no resend callback)', async () => {
    const { engine, events } = makeEngine({ scheduler: { releaseSpreadMs: 0 } })
    await engine.start()
    const session = 'agent:main:e2e-park'
    const message = `e2e resume ${Date.now()}`
    const rateLimit = {
      status: 429,
      headers: { 'retry-after': '1' },
      body: { error: { message: 'Rate limit reached for requests per min (RPM). Please try again in 1s.', code: 'rate_limit_exceeded' } },
    }
    const outcome = await engine.park(session, rateLimit, { provider: 'fake', message })
    assert.equal(outcome.parked, true, show(outcome))
    assert.equal(outcome.reason, 'rate_limit')

    const calls = await waitForMessage(message)
    assert.equal(calls.length, 1)
    const resent = events.filter((e) => e.type === 'resent' && e.sessionKey === session)
    assert.equal(resent.length, 1, show(events))
    assert.equal(resent[0].attempts, 2)
    assert.deepEqual(events.filter((e) => e.type === 'resend_failed'), [])
    // The resend used the scheduler's idempotency key `resume:<session>:<attempt>`.
    const end = await waitRun(engine, `resume:${session}:2`)
    assert.equal(end.status, 'ok', show(end))
    assert.equal(await engine.get(session), null, 'the entry left the queue after the ack')
  })

  test('wrong token: E_GATEWAY_AUTH, one terminal disconnect, then fail fast; the token never leaks', async () => {
    const { engine, events } = makeEngine({ token: WRONG_TOKEN })
    const before = gw.logs().length
    const err = await engine.sendToSession('agent:main:e2e-auth', 'never sent', 'idem-auth-1').then(
      () => assert.fail('a wrong token was accepted'),
      (e) => e,
    )
    assert.equal(err.code, 'E_GATEWAY_AUTH', err.message)
    const disconnects = () => events.filter((e) => e.type === 'gateway_disconnected')
    assert.equal(disconnects().length, 1, show(events))
    assert.equal(disconnects()[0].terminal, true)
    assert.equal(events.filter((e) => e.type === 'gateway_connected').length, 0)

    const again = await engine.gatewayRequest('sessions.list', {}).then(
      () => assert.fail('second call went through'),
      (e) => e,
    )
    assert.equal(again.code, 'E_GATEWAY_AUTH')
    // Fail fast: no new connection attempt (no new event of any kind).
    assert.equal(events.length, 1, show(events))

    const stats = await engine.stats()
    for (const text of [err.message, again.message, show(events), show(stats)]) {
      assert.ok(!text.includes(WRONG_TOKEN), `wrong token leaked: ${text}`)
      assert.ok(!text.includes(TOKEN), `token leaked: ${text}`)
    }
    const mismatches = gw.logs().slice(before).match(/token_mismatch|token mismatch/g) ?? []
    console.log(`# gateway log lines about the token mismatch since the test began: ${mismatches.length}`)
  })

  test('connect during gateway startup: succeeds once ready, without E_GATEWAY_UNAVAILABLE', async () => {
    const { engine, events } = makeEngine({ gateway: { connectBudgetMs: 120_000 } })
    await gw.halt()
    gw.spawn()
    const t0 = Date.now()
    const message = `e2e startup ${t0}`
    // The harness polls the same gateway in parallel: when it got its first hello-ok.
    const ready = gw.waitReady().then((ms) => ms)
    const ack = await engine.sendToSession('agent:main:e2e-startup', message, `idem-startup-${t0}`)
    const engineMs = Date.now() - t0
    const harnessMs = await ready
    assert.equal(ack.status, 'started')
    const disconnects = events.filter((e) => e.type === 'gateway_disconnected')
    assert.ok(disconnects.every((e) => e.terminal === false), show(disconnects))
    assert.equal(events.filter((e) => e.type === 'gateway_connected').length, 1)
    console.log(
      `# startup: engine chat.send acked ${engineMs} ms after spawn; harness first hello-ok ${harnessMs} ms; ` +
        `${disconnects.length} failed attempts before: ${disconnects.map((d) => d.code ?? '-').join(',')}`,
    )
    await waitForMessage(message)
  })

  test('gateway restart in the middle of a batch of 20 sends: every key acked, each run at most once', async () => {
    const { engine, events } = makeEngine()
    // Connected before the batch, so the restart hits a live connection.
    await engine.gatewayRequest('sessions.list', {})
    const N = 20
    const stamp = Date.now()
    const items = Array.from({ length: N }, (_, i) => ({
      session: `agent:main:e2e-batch-${i}`,
      // Delimited so that #1 does not match #10..#19.
      message: `e2e batch ${stamp} <${i}>`,
      key: `idem-batch-${stamp}-${i}`,
    }))
    const results = new Array(N)
    const send = async (it, i) => {
      try {
        results[i] = { ack: await engine.sendToSession(it.session, it.message, it.key), at: Date.now() }
      } catch (err) {
        results[i] = { err, at: Date.now() }
      }
    }
    const pending = []
    let restart
    for (let i = 0; i < N; i++) {
      pending.push(send(items[i], i))
      if (i === 5) restart = gw.restart()
      await sleep(100)
    }
    await Promise.all(pending)
    await restart

    // Between SIGTERM and its `shutdown` event the gateway answers chat.send with UNAVAILABLE
    // (retryable, retryAfterMs 1000); the client resends those with the same key, and calls
    // that find the gateway down reconnect within connectBudgetMs. So no call should fail; a
    // failure must at least be a retryable gateway error that a retry with the same key fixes.
    const failed = results.map((r, i) => [r, i]).filter(([r]) => r.err)
    for (const [r, i] of failed) {
      assert.ok(['E_GATEWAY_UNAVAILABLE', 'E_GATEWAY_TIMEOUT'].includes(r.err.code), `#${i}: ${r.err.code} ${r.err.message}`)
      await send(items[i], i)
      assert.ok(results[i].ack, `#${i} retry failed: ${results[i].err?.message}`)
    }
    for (const [i, r] of results.entries()) {
      assert.equal(r.ack.runId, items[i].key)
      assert.equal(r.ack.status, 'started', `#${i}: ${show(r.ack)}`)
    }
    assert.equal(failed.length, 0, `failed first: ${failed.map(([r, i]) => `#${i} ${r.err.code}`).join(', ')}`)

    // Keys acked on the new connection all run. Keys acked on the old one just before the
    // restart may be lost: the gateway keeps runs and idempotency keys in memory only.
    const connected = events.filter((e) => e.type === 'gateway_connected')
    assert.equal(connected.length, 2, show(events))
    const down = connected[1]
    const after = items.filter((_, i) => results[i].at > down.at)
    const t0 = Date.now()
    while (Date.now() - t0 < 120_000 && after.some((it) => callsFor(it.message).length === 0)) await sleep(250)
    for (const it of after) assert.equal(callsFor(it.message).length, 1, `${it.key} did not run exactly once`)
    await sleep(3_000)
    const lost = items.filter((it) => callsFor(it.message).length === 0)
    for (const it of lost) {
      const i = items.indexOf(it)
      assert.ok(results[i].at < down.at, `${it.key} acked after the reconnect but never ran`)
    }
    // Resending a lost key after the restart is accepted as a new run (`started`): the new
    // gateway process does not know the key. Whether it then runs soon is the gateway's
    // business (observed: most do within seconds; one whose run was interrupted mid-way can
    // stay queued behind it), so it is reported, not asserted; "at most once" is asserted.
    const resent = []
    for (const it of lost) resent.push(await engine.sendToSession(it.session, it.message, it.key))
    for (const a of resent) assert.equal(a.status, 'started', show(a))
    const t1 = Date.now()
    while (Date.now() - t1 < 20_000 && lost.some((it) => callsFor(it.message).length === 0)) await sleep(250)
    const counts = items.map((it) => callsFor(it.message).length)
    console.log(
      `# restart batch: ${after.length}/${N} acked after the reconnect; lost in the restart (acked 'started' before it, never run): ` +
        `${lost.length} (#${lost.map((it) => items.indexOf(it)).join(',#') || 'none'}); resent with the same keys: ` +
        `${lost.filter((it) => callsFor(it.message).length === 1).length}/${lost.length} ran within 20 s; ` +
        `provider calls per key ${show(counts)}; disconnect events ${events.filter((e) => e.type === 'gateway_disconnected').length}`,
    )
    for (const [i, n] of counts.entries()) assert.ok(n <= 1, `key #${i} ran ${n} times`)
  })
})
