// Fleet mode with TWO REAL OpenClaw gateways (2026.9.6): each runs the plugin (the packed plugin
// dir, as users install it) with the same `redisUrl`/`redisKeyPrefix` on a real redis-server,
// each with its own isolated HOME, state dir, config, logging.file and port, and both use one
// fake provider account. A long-window quota 429 (not retried by the gateway) hits every session
// of both; the 30 s budget window resets twice: the provider is still down at the first reset
// and back at the second. Expected: ONE provider call per window for the whole fleet (not one
// per gateway), then every session of both gateways resumed exactly once (read from
// chat.history: no session with two replies, none lost). The gateways start one after the
// other (the 2-core machine), then run side by side.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { quotaExceeded, startFakeProvider } from './fake-provider.mjs'
import { packedPluginDir } from './plugin-dir.mjs'
import { isAvailable, skipReason, startGateway, trustedEntries } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'
import { redisAvailable, startRedis } from '../helpers/redis-server.mjs'
import { waitFor } from '../helpers/fleet.mjs'

const available = isAvailable()
if (!available) {
  const bar = '!'.repeat(78)
  process.stderr.write(`\n${bar}\n${skipReason()}\n${bar}\n\n`)
}
const WINDOW_MS = 30_000
const RESUME = 'RESUME: the provider is back, continue the task.'
const RECOVERED = 'recovered reply'
const token = `e2e-fleet-${process.pid}-token`
const fleet = { a: ['agent:main:fleet-a-0', 'agent:main:fleet-a-1'], b: ['agent:main:fleet-b-0', 'agent:main:fleet-b-1'] }
const allKeys = Object.values(fleet).flat()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const sessionOf = (call) => allKeys.find((k) => call.userTexts.join('\n').includes(`session=${k} |`)) ?? null

/** Successful assistant replies in a session's chat.history, and our resends (`resume:` keys). */
async function replies(client, sessionKey) {
  const msgs = (await client.request('chat.history', { sessionKey, limit: 50 })).messages ?? []
  return {
    ok: msgs.filter((m) => m.role === 'assistant' && m.stopReason !== 'error' && JSON.stringify(m.content ?? '').includes(RECOVERED)).length,
    resends: msgs.filter((m) => m.role === 'user' && String(m.idempotencyKey ?? '').startsWith('resume:')).length,
  }
}

describe('fleet: two real gateways with the plugin share one Redis and one provider', { skip: available && redisAvailable() ? false : 'needs openclaw and redis-server' }, () => {
  test('one provider call per window for the whole fleet, then every session of both gateways resumed once', { timeout: 300_000 }, async () => {
    const t0 = Date.now()
    const redis = await startRedis()
    const fake = await startFakeProvider({ text: RECOVERED })
    fake.setDefault(quotaExceeded())
    const fleetCfg = { budgetWindow: '30s', releaseSpreadMs: 2000, resumeMessage: RESUME, redisUrl: redis.url, redisKeyPrefix: 'e2e-fleet:' }
    const plugins = [packedPluginDir()]
    const gateways = {}
    const clients = {}
    try {
      for (const name of Object.keys(fleet)) { // staggered: one gateway's startup at a time
        gateways[name] = await startGateway({ providerUrl: fake.url, token, plugins, pluginEntries: trustedEntries(['retry-engine'], fleetCfg) })
        clients[name] = await RawClient.open(gateways[name].url)
        await clients[name].handshake({ token })
      }
      assert.notEqual(gateways.a.stateDir, gateways.b.stateDir)
      const pending = async (name) => (await clients[name].request('retryEngine.status', {})).pending?.length
      for (const [name, keys] of Object.entries(fleet)) {
        for (const [i, sessionKey] of keys.entries()) {
          await clients[name].request('chat.send', { sessionKey, message: `fleet task ${name}${i} session=${sessionKey} |`, idempotencyKey: `fleet-${name}-${i}` })
        }
      }
      for (const [name, keys] of Object.entries(fleet)) {
        await waitFor(async () => (await pending(name)) === keys.length, `gateway ${name} parked its sessions`, 90_000)
      }
      const outageStart = fake.calls.length // the gateways' own failed first sends
      assert.equal(outageStart, allKeys.length, 'one failed first send per session')
      // Window 1 resets: one probe for the fleet, and the provider is still down.
      await fake.waitForCalls(outageStart + 1, WINDOW_MS + 20_000)
      const firstProbe = fake.calls[outageStart]
      await sleep(8000) // any second probe of this window would be out by now
      const windowOne = fake.calls.slice(outageStart)
      assert.equal(windowOne.length, 1, `one call in window 1 for the fleet, got ${windowOne.map(sessionOf)}`)
      assert.equal(firstProbe.status, 429)
      const recoveredIndex = fake.calls.length
      fake.recover(RECOVERED)
      // Window 2: one good probe, then each gateway releases its own sessions.
      for (const name of Object.keys(fleet)) {
        await waitFor(async () => (await pending(name)) === 0, `gateway ${name} resumed its sessions`, WINDOW_MS + 60_000)
      }
      await waitFor(async () => {
        for (const [name, keys] of Object.entries(fleet)) {
          for (const key of keys) if ((await replies(clients[name], key)).ok < 1) return false
        }
        return true
      }, 'every session answered', 60_000)
      await sleep(3000) // let any duplicate show up
      const recovery = fake.calls.slice(recoveredIndex)
      assert.deepEqual(recovery.map(sessionOf).sort(), [...allKeys].sort(), 'each session of both gateways resent once after recovery')
      assert.ok(recovery.every((c) => c.status === 200))
      const perSession = {}
      for (const [name, keys] of Object.entries(fleet)) {
        for (const key of keys) {
          const h = await replies(clients[name], key)
          perSession[key] = h
          assert.equal(h.ok, 1, `${key} on gateway ${name} has ${h.ok} successful replies`)
          // One resend each; the window-1 probe's session also has its failed probe resend.
          assert.equal(h.resends, key === sessionOf(firstProbe) ? 2 : 1, `${key} on gateway ${name}: ${h.resends} resends`)
        }
      }
      // The probes each gateway's engine sent (its lifetime counters): one per window for the fleet.
      const probes = {}
      for (const name of Object.keys(fleet)) {
        const { lifetime = {} } = await clients[name].request('retryEngine.status', {})
        probes[name] = { failed: lifetime.probe_failed ?? 0, ok: lifetime.probe_ok ?? 0 }
      }
      const total = (k) => Object.values(probes).reduce((n, p) => n + p[k], 0)
      assert.deepEqual({ failed: total('failed'), ok: total('ok') }, { failed: 1, ok: 1 }, `one probe per window fleet-wide, got ${JSON.stringify(probes)}`)
      console.log(`# fleet e2e (2 gateways): window 1: 1 call (${sessionOf(firstProbe)}), recovery: ${recovery.length} calls for ${allKeys.length} sessions, first ${sessionOf(recovery[0])}; probes ${JSON.stringify(probes)}; chat.history ${JSON.stringify(perSession)}; ${Math.round((Date.now() - t0) / 1000)} s`)
    } catch (err) {
      console.log('# provider calls:', JSON.stringify(fake.calls.map((c) => ({ at: c.at, s: sessionOf(c), status: c.status }))))
      for (const [name, gw] of Object.entries(gateways)) {
        const notable = gw.logs().split('\n').filter((l) => /retry-engine|error|warn|fail/i.test(l))
        console.log(`# gateway ${name} log (retry-engine, errors):\n${notable.slice(-60).join('\n')}`)
      }
      throw err
    } finally {
      for (const c of Object.values(clients)) c.close()
      for (const gw of Object.values(gateways)) await gw.stop()
      await fake.close()
      await redis.close()
    }
  })
})
