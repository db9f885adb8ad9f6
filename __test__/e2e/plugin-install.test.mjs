// Installing and operating the plugin the OpenClaw way, with the REAL openclaw CLI and gateway
// (2026.9.6), from a clean isolated HOME / OPENCLAW_STATE_DIR / OPENCLAW_CONFIG_PATH each:
//   1. every install form OpenClaw supports offline — the packed tarball, `npm-pack:<tgz>`, an
//      unpacked package directory, and `npm:<pkg>` — installs, enables and starts (the native
//      platform package comes through OpenClaw's own npm install, from a local registry on
//      127.0.0.1 that serves the `npm run pack:local` tarballs; the public npm registry form is
//      the same code path but cannot be tested offline);
//   2. an operator sees a session parked by a quota outage in `openclaw retry-engine list`,
//      `retry`s it (it completes), `drop`s another, and the lifetime counters survive a restart;
//   3. `openclaw config set` refuses what the engine would refuse (wss://), and a valid change
//      hot-reloads without taking the plugin down.
//   node --test __test__/e2e/plugin-install.test.mjs     (~3 min on 2 cores)
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { packLocal } from '../../scripts/pack-local.mjs'
import { quotaExceeded, startFakeProvider } from './fake-provider.mjs'
import { isAvailable, skipReason, startGateway } from './gateway.mjs'
import { startLocalRegistry } from './local-registry.mjs'
import { RawClient } from './raw-client.mjs'

const available = isAvailable()
if (!available) {
  const bar = '!'.repeat(78)
  process.stderr.write(`\n${bar}\n${skipReason()}\n${bar}\n\n`)
}

const ID = 'retry-engine'
const RECOVERED = 'recovered reply'
const token = `e2e-install-${process.pid}-token`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let work
let packed
let registry
let fake

/** Polls `fn` until it returns a truthy value (rejects with `what` after `timeoutMs`). */
async function until(fn, what, timeoutMs = 60_000) {
  const t0 = Date.now()
  let last
  for (;;) {
    last = await fn()
    if (last) return last
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(500)
  }
}

/** Runs the CLI and insists on exit 0 (the message shows both streams otherwise). */
async function ok(gw, args) {
  const r = await gw.cli(args)
  assert.equal(r.code, 0, `openclaw ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
  return r
}

/** The JSON document a `--json` command printed (the CLI may print log lines before it). */
function jsonOut(r) {
  const start = r.stdout.indexOf('{')
  assert.ok(start >= 0, `no JSON in:\n${r.stdout}\n${r.stderr}`)
  return JSON.parse(r.stdout.slice(start))
}

/** Starts a gateway whose state dir gets the plugin through `openclaw plugins install <spec>`. */
function gatewayWith(spec, pluginConfig = {}) {
  return startGateway({
    providerUrl: fake.url,
    token,
    env: { npm_config_registry: registry.url, npm_config_cache: join(work, 'npm-cache') },
    prepare: async ({ cli, env, root }) => {
      const install = await cli(['plugins', 'install', spec, '--force', '--accept-capabilities'])
      assert.equal(install.code, 0, `plugins install ${spec}:\n${install.stdout}\n${install.stderr}`)
      assert.match(install.stdout, /Installed plugin: retry-engine/)
      const batch = [
        { path: `plugins.entries.${ID}.enabled`, value: true },
        { path: `plugins.entries.${ID}.hooks.allowConversationAccess`, value: true },
        { path: `plugins.entries.${ID}.config`, value: { budgetWindow: '1d', releaseSpreadMs: 0, ...pluginConfig } },
        { path: 'logging.file', value: join(root, 'gateway.log') },
      ]
      const set = await cli(['config', 'set', '--batch-json', JSON.stringify(batch)])
      assert.equal(set.code, 0, `config set:\n${set.stdout}\n${set.stderr}`)
      assert.ok(env.OPENCLAW_STATE_DIR)
    },
  })
}

async function engineStatus(gw) {
  return jsonOut(await ok(gw, [ID, 'status', '--json']))
}

describe('installing and operating the plugin with the real openclaw CLI', { skip: available ? false : skipReason() }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'plugin-install-'))
    packed = packLocal(join(work, 'tarballs'))
    registry = await startLocalRegistry([packed.root.file, packed.platform.file])
    fake = await startFakeProvider({ text: RECOVERED })
    mkdirSync(join(work, 'dir'))
    execFileSync('tar', ['-xzf', packed.root.file, '-C', join(work, 'dir')])
  })
  after(async () => {
    await fake?.close()
    await registry?.close()
    if (work) rmSync(work, { recursive: true, force: true })
  })

  const forms = [
    ['a packed tarball', () => packed.root.file],
    ['npm-pack:<tgz>', () => `npm-pack:${packed.root.file}`],
    ['an unpacked package directory', () => join(work, 'dir', 'package')],
    ['npm:<pkg> (from the local registry)', () => 'npm:openclaw-retry-engine@0.1.0'],
  ]
  for (const [name, spec] of forms) {
    test(`install from ${name}: the plugin loads, its service runs, the CLI command works`, { timeout: 240_000 }, async () => {
      const gw = await gatewayWith(spec())
      try {
        const s = await until(async () => {
          const st = await engineStatus(gw)
          return st.running ? st : null
        }, 'retryEngine.status running: true', 30_000)
        assert.equal(s.running, true)
        assert.ok(s.stats.stateDir.startsWith(gw.stateDir), s.stats.stateDir)
        const inspect = await ok(gw, ['plugins', 'inspect', ID, '--json'])
        assert.match(inspect.stdout, /retry-engine/)
        const human = await ok(gw, [ID, 'list'])
        assert.match(human.stdout, /No parked sessions\./)
        assert.doesNotMatch(gw.logs(), /Cannot find module/)
      } finally {
        await gw.stop()
      }
    })
  }

  test('operate: list a parked session, retry it (it completes), drop another; counters survive a restart', { timeout: 300_000 }, async () => {
    fake.setDefault(quotaExceeded())
    const gw = await gatewayWith(`npm-pack:${packed.root.file}`)
    const client = await RawClient.open(gw.url)
    try {
      await client.handshake({ token })
      const keys = ['agent:main:ops-retry', 'agent:main:ops-drop']
      for (const [i, sessionKey] of keys.entries()) {
        const ack = await client.request('chat.send', { sessionKey, message: `ops task ${i}`, idempotencyKey: `ops-${i}` })
        await client.waitEvent((f) => f.event === 'chat' && f.payload?.runId === ack.runId && ['final', 'error'].includes(f.payload?.state), 90_000)
      }
      const listed = await until(async () => {
        const l = jsonOut(await ok(gw, [ID, 'list', '--json']))
        return l.sessions.length === 2 ? l : null
      }, 'both sessions parked')
      for (const e of listed.sessions) {
        assert.ok(keys.includes(e.sessionKey))
        assert.equal(e.reason, 'quota')
        assert.equal(e.status, 'parked')
        assert.equal(e.attempts, 1)
        assert.ok(e.retryAtMs > Date.now() + 60_000, 'parked until the budget window resets')
        assert.equal(e.group, 'fake')
        assert.match(e.lastError, /quota/i)
        assert.match(e.why, /quota after 1 attempt\(s\); waits until .* \(the quota window resets; group fake sends one probe first\)/)
      }
      const table = await ok(gw, [ID, 'list'])
      assert.match(table.stdout, /SESSION\s+REASON\s+STATUS\s+ATTEMPTS\s+DUE\s+GROUP\s+LAST ERROR\s+WHY/)
      assert.match(table.stdout, /agent:main:ops-retry\s+quota\s+parked\s+1 /)

      fake.recover(RECOVERED)
      const retried = jsonOut(await ok(gw, [ID, 'retry', keys[0], '--json']))
      assert.deepEqual(retried, { due: [keys[0]], inFlight: [] })
      await until(async () => {
        const h = await client.request('chat.history', { sessionKey: keys[0], limit: 10 })
        const last = h.messages?.filter((m) => m.role === 'assistant').at(-1)
        return last && last.stopReason !== 'error' && JSON.stringify(last.content ?? '').includes(RECOVERED)
      }, 'the retried session completes', 90_000)
      await until(async () => {
        const l = jsonOut(await ok(gw, [ID, 'list', '--json']))
        return l.sessions.length === 1 && l.sessions[0].sessionKey === keys[1]
      }, 'the retried session leaves the queue', 60_000)

      const dropped = await ok(gw, [ID, 'drop', keys[1], '--reason', 'operator says no'])
      assert.match(dropped.stdout, /Dropped agent:main:ops-drop \(reason: operator says no\)\./)
      await gw.waitForLog(/retry-engine dropped agent:main:ops-drop .*reason: "operator says no"/)
      assert.equal(jsonOut(await ok(gw, [ID, 'list', '--json'])).sessions.length, 0)
      const missing = await ok(gw, [ID, 'drop', keys[1]])
      assert.match(missing.stdout, /is not parked/)

      const before = (await engineStatus(gw)).lifetime
      assert.equal(before.retried, 1)
      assert.equal(before.dropped, 1)
      assert.ok(before.parked >= 2, JSON.stringify(before))
      assert.ok(before.resolved >= 1, JSON.stringify(before))

      await gw.restart()
      const afterRestart = await until(async () => {
        const st = await engineStatus(gw)
        return st.running ? st : null
      }, 'running after the restart', 30_000)
      for (const k of ['retried', 'dropped', 'parked', 'resolved']) {
        assert.ok(afterRestart.lifetime[k] >= before[k], `${k}: ${afterRestart.lifetime[k]} after, ${before[k]} before`)
      }
      assert.doesNotMatch(gw.logs(), new RegExp(token))
      assert.doesNotMatch(readFileSync(join(gw.stateDir, ID, 'counters.json'), 'utf8'), new RegExp(token))
    } finally {
      client.close()
      await gw.stop()
      fake.recover(RECOVERED)
    }
  })

  test('config set refuses what the engine refuses; a valid change hot-reloads and the plugin stays up', { timeout: 240_000 }, async () => {
    const gw = await gatewayWith(packed.root.file)
    try {
      await until(async () => (await engineStatus(gw)).running, 'running', 30_000)
      const path = `plugins.entries.${ID}.config.gatewayUrl`
      const before = readFileSync(gw.configPath, 'utf8')
      const refused = await gw.cli(['config', 'set', path, 'wss://127.0.0.1:1'])
      assert.notEqual(refused.code, 0, `config set accepted wss://:\n${refused.stdout}\n${refused.stderr}`)
      assert.match(`${refused.stdout}\n${refused.stderr}`, /gatewayUrl|pattern/i)
      assert.equal(readFileSync(gw.configPath, 'utf8'), before, 'the config file is unchanged')
      for (const [field, value] of [['maxConcurrent', '0'], ['budgetWindow', '"5 hours"'], ['stateDir', '"relative"']]) {
        const r = await gw.cli(['config', 'set', `plugins.entries.${ID}.config.${field}`, value, '--strict-json'])
        assert.notEqual(r.code, 0, `${field}=${value} accepted`)
      }

      const started = (gw.logs().match(/retry-engine started/g) ?? []).length
      await ok(gw, ['config', 'set', `plugins.entries.${ID}.config.maxConcurrent`, '2', '--strict-json'])
      await until(() => (gw.logs().match(/retry-engine started/g) ?? []).length > started, 'the hot reload restarts the engine', 60_000).catch(() => {})
      const s = await until(async () => {
        const st = await engineStatus(gw)
        return st.running ? st : null
      }, 'running after the reload', 30_000)
      assert.equal(s.running, true)
      assert.doesNotMatch(gw.logs(), /FAILED TO START/)
    } finally {
      await gw.stop()
    }
  })
})
