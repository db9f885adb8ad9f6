// The plugin (package root) inside a REAL OpenClaw gateway (2026.9.6), against the fake provider:
// a provider outage (long-window quota 429s, which the gateway does not retry) hits N sessions,
// then the provider recovers. Run twice: without the plugin and with it. Prints the provider
// calls and the sessions left uncompleted for both (the numbers quoted in README.md).
//   node scripts/setup-openclaw.mjs        # once; needs the npm registry
//   node --test __test__/e2e/plugin.test.mjs   (~4 min)
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { quotaExceeded, startFakeProvider } from './fake-provider.mjs'
import { packedPluginDir } from './plugin-dir.mjs'
import { isAvailable, skipReason, startGateway, trustedEntries } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'

const available = isAvailable()
if (!available) {
  const bar = '!'.repeat(78)
  process.stderr.write(`\n${bar}\n${skipReason()}\n${bar}\n\n`)
}

const N = 5
const WINDOW_MS = 30_000
const RESUME = 'RESUME: the provider is back, continue the task.'
const RECOVERED = 'recovered reply'
const token = `e2e-plugin-${process.pid}-token`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const keys = Array.from({ length: N }, (_, i) => `agent:main:outage-${i}`)
const results = {}

/** The session a provider call belongs to (the gateway puts `session=<key> |` in the prompt). */
const sessionOf = (call) => keys.find((k) => call.userTexts.join('\n').includes(`session=${k} |`)) ?? null
const isResume = (call) => call.userTexts.some((t) => t.includes(RESUME))

/** Polls `fn` until it returns a truthy value (rejects with `what` after `timeoutMs`). */
async function until(fn, what, timeoutMs = 60_000) {
  const t0 = Date.now()
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

/** Whether the session's last message is a successful assistant reply. */
async function completed(client, sessionKey) {
  const h = await client.request('chat.history', { sessionKey, limit: 10 })
  const last = h.messages?.filter((m) => m.role === 'assistant').at(-1)
  return !!last && last.stopReason !== 'error' && JSON.stringify(last.content ?? '').includes(RECOVERED)
}

/** Starts provider + gateway, sends N sessions into the outage and waits until all N failed. */
async function outage(withPlugin) {
  const fake = await startFakeProvider({ text: RECOVERED })
  fake.setDefault(quotaExceeded())
  const gw = await startGateway({
    providerUrl: fake.url,
    token,
    plugins: withPlugin ? [packedPluginDir()] : [], // the package as users install it
    pluginEntries: withPlugin
      ? trustedEntries(['retry-engine'], { budgetWindow: '30s', releaseSpreadMs: 2000, resumeMessage: RESUME })
      : {},
  })
  const client = await RawClient.open(gw.url)
  const hello = await client.handshake({ token })
  const runIds = []
  for (const [i, sessionKey] of keys.entries()) {
    const ack = await client.request('chat.send', { sessionKey, message: `outage task ${i}`, idempotencyKey: `outage-${i}` })
    runIds.push(ack.runId)
  }
  for (const runId of runIds) {
    const end = await client.waitEvent(
      (f) => f.event === 'chat' && f.payload?.runId === runId && ['final', 'error', 'aborted'].includes(f.payload?.state),
      90_000,
    )
    assert.equal(end.payload.state, 'error', 'every session fails during the outage')
  }
  return { fake, gw, client, hello }
}

/** Provider calls summary: during the outage (before recover) and after. */
/** Splits the provider calls at `recoveredIndex` (the call count when the provider recovered;
 * by index, not by time: a call and the recovery can share a millisecond). */
function count(fake, recoveredIndex) {
  const during = fake.calls.slice(0, recoveredIndex)
  const afterwards = fake.calls.slice(recoveredIndex)
  return {
    outageCalls: during.length,
    outage429s: during.filter((c) => c.status === 429).length,
    recoveryCalls: afterwards.length,
    unattributed: fake.calls.filter((c) => !sessionOf(c)).length,
  }
}

describe('retry-engine plugin in a real OpenClaw gateway', { skip: available ? false : skipReason() }, () => {
  after(() => {
    if (!results.without || !results.with) return
    const line = (name, r) =>
      `${name}: ${r.outageCalls} provider calls during the outage (${r.outage429s} answered 429), ` +
      `${r.recoveryCalls} after recovery, ${r.uncompleted}/${N} sessions left uncompleted`
    const summary = [
      `provider outage over ${N} sessions (long-window quota 429, then recovery):`,
      line('  without the plugin', results.without),
      line('  with the plugin   ', results.with),
    ].join('\n')
    process.stdout.write(`\n${summary}\n\n`)
  })

  test('without the plugin: the failed sessions stay failed after the provider recovers', { timeout: 240_000 }, async () => {
    const { fake, gw, client } = await outage(false)
    try {
      assert.equal(fake.callCount, N, 'the gateway does not retry a long-window quota 429')
      // Recover when the plugin's first probe would already have failed (the next 30 s window + 3 s).
      await sleep(Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS + 3000 - Date.now())
      const recoveredIndex = fake.calls.length
      fake.recover(RECOVERED)
      // Observe as long as the plugin needs to finish (one more window plus the release spread).
      await sleep(WINDOW_MS + 10_000)
      const done = await Promise.all(keys.map((k) => completed(client, k)))
      results.without = { ...count(fake, recoveredIndex), uncompleted: done.filter((d) => !d).length }
      assert.equal(results.without.recoveryCalls, 0, 'nothing resends the failed sessions')
      assert.equal(results.without.uncompleted, N)
    } finally {
      client.close()
      await gw.stop()
      await fake.close()
    }
  })

  test('with the plugin: each session parked once, one probe per window, then every session completes', { timeout: 240_000 }, async () => {
    const { fake, gw, client, hello } = await outage(true)
    try {
      // (snapshot.health may not be filled in yet at hello time; the method list always is.)
      const loaded = hello.snapshot?.health?.plugins?.loaded
      if (loaded) assert.ok(loaded.includes('retry-engine'), 'the plugin loaded')
      assert.ok(hello.features.methods.includes('retryEngine.status'), 'the status method is registered')
      const status = () => client.request('retryEngine.status', {})

      // Parked: one entry per session, each parked exactly once.
      const parked = await until(async () => {
        const s = await status()
        return s.pending?.length === N ? s : null
      }, `${N} parked sessions`)
      assert.deepEqual(parked.pending.map((e) => e.sessionKey).sort(), [...keys].sort())
      for (const e of parked.pending) {
        assert.equal(e.reason, 'quota')
        assert.equal(e.group, 'fake')
        assert.equal(e.attempts, 1)
      }
      for (const k of keys) assert.equal(parked.counters.parkedBySession[k], 1, `${k} parked once`)
      assert.equal(parked.stats.keys[keys[0]].lastErrorReason, 'quota')
      assert.ok(parked.stats.keys[keys[0]].cooldownUntilMs > Date.now() - 1000)
      assert.equal(fake.callCount, N)

      // The window resets: ONE probe goes out, and the provider is still down.
      const [probeCall] = (await fake.waitForCalls(N + 1, WINDOW_MS + 20_000)).slice(N)
      assert.ok(isResume(probeCall), 'the first call after the reset is the resume probe')
      assert.equal(probeCall.status, 429)
      const probeKey = sessionOf(probeCall)
      assert.ok(probeKey, 'the probe went into one of the parked sessions')
      const recoveredIndex = fake.calls.length
      fake.recover(RECOVERED)

      // Next window: the probe succeeds, the rest are released; every session completes.
      const final = await until(async () => {
        const s = await status()
        return s.pending?.length === 0 && s.counters.resolved >= N ? s : null
      }, 'every session resumed and resolved', WINDOW_MS + 60_000)
      const done = await Promise.all(keys.map((k) => completed(client, k)))
      results.with = { ...count(fake, recoveredIndex), uncompleted: done.filter((d) => !d).length }

      assert.equal(results.with.uncompleted, 0, 'every session completed')
      assert.equal(results.with.outageCalls, N + 1, 'during the outage: the N failures plus one probe, no retry storm')
      const recovery = fake.calls.slice(recoveredIndex)
      assert.ok(recovery.every((c) => c.status === 200 && isResume(c)))
      assert.deepEqual(recovery.map(sessionOf).sort(), [...keys].sort(), 'one resend per session after recovery')
      assert.equal(recovery[0] && sessionOf(recovery[0]), probeKey, 'the same session probes again first')
      for (const k of keys) assert.equal(final.counters.parkedBySession[k], k === probeKey ? 2 : 1)
      assert.equal(results.with.unattributed, 0)
    } finally {
      client.close()
      await gw.stop()
      await fake.close()
    }
  })
})
