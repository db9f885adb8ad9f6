// The plugin in a REAL OpenClaw gateway: a cron job whose run fails on billing (which waiting
// cannot fix) is disabled by the plugin through the gateway's cron.update (operator.admin), with
// one alert in the log. A fresh gateway: billing makes it disable the provider key for ~10 min.
//   node --test __test__/e2e/plugin-cron.test.mjs   (~1 min)
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { billingExhausted, startFakeProvider } from './fake-provider.mjs'
import { packedPluginDir } from './plugin-dir.mjs'
import { isAvailable, skipReason, startGateway, trustedEntries } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'

const available = isAvailable()
const token = `e2e-plugin-cron-${process.pid}-token`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function until(fn, what, timeoutMs = 60_000) {
  const t0 = Date.now()
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

describe('retry-engine plugin and cron jobs in a real OpenClaw gateway', { skip: available ? false : skipReason() }, () => {
  test('a billing failure of a cron run disables the job through cron.update, with one alert', { timeout: 180_000 }, async () => {
    const fake = await startFakeProvider({ text: 'unused' })
    fake.setDefault(billingExhausted())
    const gw = await startGateway({ providerUrl: fake.url, token, plugins: [packedPluginDir()], pluginEntries: trustedEntries(['retry-engine']) })
    const client = await RawClient.open(gw.url)
    try {
      const hello = await client.handshake({ token, scopes: ['operator.read', 'operator.write', 'operator.admin'] })
      assert.ok(hello.auth.scopes.includes('operator.admin'))
      const added = await client.request('cron.add', {
        name: 'e2e billing job',
        schedule: { kind: 'every', everyMs: 3_600_000 },
        sessionTarget: 'isolated',
        wakeMode: 'now',
        payload: { kind: 'agentTurn', message: 'cron task that hits billing' },
        enabled: true,
      })
      const id = added.id ?? added.job?.id
      assert.ok(id, `cron.add returned an id: ${JSON.stringify(added).slice(0, 300)}`)
      await client.request('cron.run', { id, mode: 'force' })

      let last
      const status = await until(async () => {
        last = await client.request('retryEngine.status', {})
        return last.counters?.disabledCronJobs?.includes(id) ? last : null
      }, 'the plugin to disable the cron job', 90_000).catch((err) => {
        const logs = gw.logs().split('\n').filter((l) => /retry-engine|cron/i.test(l)).slice(-30).join('\n')
        throw new Error(`${err.message}; provider calls ${fake.callCount}; status ${JSON.stringify(last)}\n${logs}`)
      })
      const job = await client.request('cron.get', { id })
      assert.equal((job.job ?? job).enabled, false, 'the job is disabled in the gateway')
      const key = status.stats.keys[`cron:${id}`]
      assert.equal(key.lastErrorReason, 'billing')
      assert.equal(key.disabled, true)
      assert.ok(key.disabledUntilMs > Date.now())
      assert.equal(status.pending.length, 0, 'billing is never parked')
      assert.equal(status.counters.alerts, 1)
      const alerts = gw.logs().split('\n').filter((l) => l.includes(`retry-engine alert: cron job ${id} failed with billing`))
      assert.equal(alerts.length, 1, 'one alert')
      // The harness replaces the token with "<token>" in the captured log.
      const ours = gw.logs().split('\n').filter((l) => l.includes('retry-engine'))
      assert.ok(ours.length > 0 && ours.every((l) => !l.includes('<token>')), 'the plugin never logs the token')
      assert.equal(fake.callCount, 1, 'one provider call: the gateway does not retry billing')
    } finally {
      client.close()
      await gw.stop()
      await fake.close()
    }
  })
})
