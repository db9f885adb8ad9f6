// Fleet mode with a REAL OpenClaw gateway (2026.9.6): the plugin in a gateway and a second engine
// in its own process share one provider account through a real redis-server (`redisUrl`). A
// long-window quota 429 (not retried by the gateway) hits both; the 30 s budget window resets
// twice: the provider is still down at the first reset and back at the second. Expected: ONE
// provider call per window for the whole fleet (not one per engine), then every session of
// both engines resumed once. (One gateway at a time: the machine's rule; the other engine of
// the fleet is a plain RetryEngine process, __test__/fixtures/fleet-engine.mjs.)
import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { quotaExceeded, startFakeProvider } from './fake-provider.mjs'
import { isAvailable, skipReason, startGateway, trustedEntries } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'
import { redisAvailable, startRedis } from '../helpers/redis-server.mjs'
import { cleanupFleetDirs, startEngine, waitFor } from '../helpers/fleet.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const pluginDir = join(here, '..', '..', 'plugin')
const available = isAvailable()
if (!available) {
  const bar = '!'.repeat(78)
  process.stderr.write(`\n${bar}\n${skipReason()}\n${bar}\n\n`)
}
const WINDOW_MS = 30_000
const RESUME = 'RESUME: the provider is back, continue the task.'
const token = `e2e-fleet-${process.pid}-token`
const gwKeys = ['agent:main:fleet-0', 'agent:main:fleet-1']
const otherKeys = ['other-0', 'other-1']
const allKeys = [...gwKeys, ...otherKeys]
const sessionOf = (call) => allKeys.find((k) => call.userTexts.join('\n').includes(`session=${k} |`)) ?? null

describe('fleet: a real gateway with the plugin and a second engine share one Redis', { skip: available && redisAvailable() ? false : 'needs openclaw and redis-server' }, () => {
  test('one provider call per window for the whole fleet, then every session resumed once', { timeout: 300_000 }, async () => {
    const redis = await startRedis()
    const fake = await startFakeProvider({ text: 'recovered reply' })
    fake.setDefault(quotaExceeded())
    const fleetCfg = { budgetWindow: '30s', releaseSpreadMs: 2000, resumeMessage: RESUME, redisUrl: redis.url, redisKeyPrefix: 'e2e-fleet:' }
    const gw = await startGateway({ providerUrl: fake.url, token, plugins: [pluginDir], pluginEntries: trustedEntries(['retry-engine'], fleetCfg) })
    const other = startEngine(redis.url, fake.url, 'other', otherKeys, {
      FLEET_OPENAI: '1', FLEET_QUOTA: '1', FLEET_BUDGET_WINDOW: '30s', FLEET_REPROBE_MS: String(WINDOW_MS), FLEET_PREFIX: 'e2e-fleet:'
    })
    let client
    try {
      client = await RawClient.open(gw.url)
      await client.handshake({ token })
      const status = () => client.request('retryEngine.status', {})
      for (const [i, sessionKey] of gwKeys.entries()) {
        await client.request('chat.send', { sessionKey, message: `fleet task ${i} session=${sessionKey} |`, idempotencyKey: `fleet-${i}` })
      }
      await waitFor(async () => (await status()).pending?.length === gwKeys.length, 'the gateway parked both sessions', 90_000)
      await waitFor(() => other.has('ready'), 'the other engine ready')
      other.send('go')
      await waitFor(() => other.has('parked-all'), 'the other engine parked')
      const outageStart = fake.calls.length // the gateway's own failed first sends
      // Window 1 resets: one probe for the fleet, and the provider is still down.
      await fake.waitForCalls(outageStart + 1, WINDOW_MS + 20_000)
      const firstProbe = fake.calls[outageStart]
      await new Promise((resolve) => setTimeout(resolve, 8000)) // any second probe of this window would be out by now
      const windowOne = fake.calls.slice(outageStart)
      assert.equal(windowOne.length, 1, `one call in window 1, got ${windowOne.map(sessionOf)}`)
      assert.equal(firstProbe.status, 429)
      const recoveredIndex = fake.calls.length
      fake.recover('recovered reply')
      // Window 2: one good probe, then both engines release their own sessions.
      await waitFor(async () => (await status()).pending?.length === 0, 'the gateway resumed its sessions', WINDOW_MS + 60_000)
      await waitFor(() => otherKeys.every((k) => fake.calls.slice(recoveredIndex).some((c) => sessionOf(c) === k)), 'the other engine resumed its sessions', 30_000)
      await new Promise((resolve) => setTimeout(resolve, 3000))
      const recovery = fake.calls.slice(recoveredIndex)
      assert.deepEqual(recovery.map(sessionOf).sort(), [...allKeys].sort(), 'each session of both engines resent once after recovery')
      assert.ok(recovery.every((c) => c.status === 200))
      const final = await other.final()
      assert.deepEqual(final.pending, [])
      console.log(`# fleet e2e: window 1: 1 call (${sessionOf(firstProbe)}), recovery: ${recovery.length} calls, first ${sessionOf(recovery[0])}`)
    } catch (err) {
      console.log('# other engine events:', JSON.stringify(other.events.map(({ type, at, sessionKey, group, ok, retryAtMs, message }) => ({ type, at, sessionKey, group, ok, retryAtMs, message }))))
      console.log('# provider calls:', JSON.stringify(fake.calls.map((c) => ({ at: c.at, s: sessionOf(c), status: c.status }))))
      throw err
    } finally {
      client?.close()
      other.child.kill('SIGKILL')
      await gw.stop()
      await fake.close()
      await redis.close()
      cleanupFleetDirs()
    }
  })
})
