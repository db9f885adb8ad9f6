// Installing and operating the plugin the OpenClaw way, with the REAL openclaw CLI and gateway
// (2026.9.6), from a clean isolated HOME / OPENCLAW_STATE_DIR / OPENCLAW_CONFIG_PATH each:
//   1. every install form OpenClaw supports offline — the packed tarball, `npm-pack:<tgz>`, a
//      package directory, and `npm:<pkg>` — installs, enables and starts. For archives and npm
//      specs the native platform package comes through OpenClaw's own npm install, from a local
//      registry on 127.0.0.1 that serves the `npm run pack:local` tarballs (the public npm
//      registry is the same code path but cannot be reached offline); a directory is copied as
//      it is, so it is pack:local's self-contained plugin-dir (platform package inside);
//   2. an operator sees a session parked by a quota outage in `openclaw retry-engine list`,
//      `retry`s it (it completes), `drop`s another, and the lifetime counters survive a restart;
//   3. `openclaw config set` refuses what the engine would refuse (wss://), and a valid change
//      hot-reloads without taking the plugin down.
//   node --test __test__/e2e/plugin-install.test.mjs     (~3 min on 2 cores)
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { packLocal } from '../../scripts/pack-local.mjs'
import { quotaExceeded, startFakeProvider } from './fake-provider.mjs'
import { METHODS } from '../../plugin/dist/operator.js'
import { layout } from '../../scripts/setup-openclaw.mjs'
import { isAvailable, runCli, skipReason, startGateway } from './gateway.mjs'
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

/** `err` with what the gateway logged of the plugin and `state` added to its message (for CI runs). */
function withLogs(err, gw, state) {
  const lines = gw.logs().split('\n').filter((l) => /retry-engine|agent_end|error/i.test(l))
  err.message += `\n--- state\n${JSON.stringify(state, null, 1)}\n--- gateway log (retry-engine lines, last 80)\n${lines.slice(-80).join('\n')}`
  return err
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

/** An isolated HOME / state dir / config under `root` for CLI-only runs (no gateway). */
function isolatedEnv(root) {
  const l = layout()
  const env = {
    PATH: `${join(l.nodeBin, '..')}:/usr/bin:/bin`,
    HOME: join(root, 'home'),
    TMPDIR: process.env.TMPDIR ?? tmpdir(),
    LANG: 'C.UTF-8',
    OPENCLAW_STATE_DIR: join(root, 'state'),
    OPENCLAW_CONFIG_PATH: join(root, 'openclaw.json'),
    OPENCLAW_DISABLE_BONJOUR: '1',
    OPENCLAW_NO_AUTO_UPDATE: '1',
    NO_COLOR: '1',
    npm_config_registry: registry.url,
    npm_config_cache: join(work, 'npm-cache'),
  }
  mkdirSync(env.HOME, { recursive: true })
  mkdirSync(env.OPENCLAW_STATE_DIR, { recursive: true })
  return env
}

/** `openclaw plugins install <spec>` (non-interactive) and enable it with conversation access. */
async function install(env, spec, pluginConfig = {}, extra = []) {
  const r = await runCli(env, ['plugins', 'install', spec, '--force', '--accept-capabilities'])
  assert.equal(r.code, 0, `plugins install ${spec}:\n${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, /Installed plugin: retry-engine/)
  const batch = [
    { path: `plugins.entries.${ID}.enabled`, value: true },
    { path: `plugins.entries.${ID}.hooks.allowConversationAccess`, value: true },
    { path: `plugins.entries.${ID}.config`, value: { budgetWindow: '1d', releaseSpreadMs: 0, ...pluginConfig } },
    ...extra,
  ]
  const set = await runCli(env, ['config', 'set', '--batch-json', JSON.stringify(batch)])
  assert.equal(set.code, 0, `config set:\n${set.stdout}\n${set.stderr}`)
}

/** Starts a gateway whose state dir gets the plugin through `openclaw plugins install <spec>`. */
function gatewayWith(spec, pluginConfig = {}) {
  return startGateway({
    providerUrl: fake.url,
    token,
    env: { npm_config_registry: registry.url, npm_config_cache: join(work, 'npm-cache') },
    prepare: ({ env, root }) => install(env, spec, pluginConfig, [{ path: 'logging.file', value: join(root, 'gateway.log') }]),
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
  })
  after(async () => {
    await fake?.close()
    await registry?.close()
    if (work) rmSync(work, { recursive: true, force: true })
  })

  // Each form from a clean state dir; the plugin runtime is loaded by `plugins inspect --runtime`
  // (the native addon included). The tarball and npm-pack forms also run a gateway below.
  const forms = [
    ['a packed tarball', () => packed.root.file],
    ['npm-pack:<tgz>', () => `npm-pack:${packed.root.file}`],
    ['a self-contained package directory (pack:local plugin-dir)', () => packed.pluginDir],
    ['npm:<pkg> (from the local registry)', () => 'npm:openclaw-retry-engine@0.1.0'],
  ]
  for (const [name, spec] of forms) {
    test(`install from ${name}: the plugin and its native addon load, every method is registered`, { timeout: 180_000 }, async () => {
      const root = mkdtempSync(join(work, 'form-'))
      const env = isolatedEnv(root)
      try {
        await install(env, spec())
        const r = await runCli(env, ['plugins', 'inspect', ID, '--runtime', '--json'])
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
        const report = jsonOut(r)
        assert.equal(report.plugin.status, 'loaded', JSON.stringify(report.diagnostics))
        assert.deepEqual([...report.gatewayMethods].sort(), Object.values(METHODS).map((m) => m.name).sort())
        assert.deepEqual(report.services, ['retry-engine-service'])
        assert.deepEqual(report.diagnostics.filter((d) => d.level === 'error'), [])
        assert.doesNotMatch(r.stderr, /Cannot find|failed during load/)
        const help = await runCli(env, [ID, '--help'])
        assert.equal(help.code, 0, `${help.stdout}\n${help.stderr}`)
        for (const sub of ['status', 'list', 'retry', 'drop']) assert.match(help.stdout, new RegExp(`\\b${sub}\\b`))
      } finally {
        rmSync(root, { recursive: true, force: true })
      }
    })
  }

  test('operate: list a parked session, retry it (it completes), drop another; counters survive a restart', { timeout: 300_000 }, async () => {
    // A long-window quota (the gateway fails it at once, no retry of its own) whose text names
    // a reset hours away: the default text's window ends at the next UTC midnight, which a run
    // just before midnight reaches while this test still expects ops-drop to be parked.
    fake.setDefault(quotaExceeded({ message: 'You exceeded your current quota: daily usage limit reached. Please try again in 6h.' }))
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
        assert.ok(e.retryAtMs > Date.now() + 5 * 3600_000, 'parked until the reset the quota text names (6 h)')
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
      let lastList
      await until(async () => {
        const l = (lastList = jsonOut(await ok(gw, [ID, 'list', '--json'])))
        return l.sessions.length === 1 && l.sessions[0].sessionKey === keys[1]
      }, 'the retried session leaves the queue', 60_000).catch((err) => {
        throw withLogs(err, gw, { lastList })
      })

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

      // A valid change is applied by a hot reload: the new settings are in effect, still running.
      assert.equal((await engineStatus(gw)).settings.maxConcurrent, 4)
      await ok(gw, ['config', 'set', `plugins.entries.${ID}.config.maxConcurrent`, '2', '--strict-json'])
      const reloaded = await until(async () => {
        const st = await engineStatus(gw)
        return st.running && st.settings?.maxConcurrent === 2 ? st : null
      }, 'the hot reload applies maxConcurrent 2', 90_000)
      assert.equal(reloaded.running, true)

      // A change the schema allows but the engine cannot start with (its state dir cannot be
      // created): loud in the gateway log, and the plugin stays up with the previous settings
      // (the previous engine keeps running; OpenClaw then rolls the registration back).
      await ok(gw, ['config', 'set', `plugins.entries.${ID}.config.stateDir`, '"/dev/null/retry-engine"', '--strict-json'])
      await gw.waitForLog(/retry-engine FAILED TO START \([A-Z_]+\): /, 90_000)
      const survived = await engineStatus(gw)
      assert.equal(survived.running, true, JSON.stringify(survived.error))
      assert.equal(survived.settings.maxConcurrent, 2, 'the previous settings')
      assert.notEqual(survived.settings.stateDir, '/dev/null/retry-engine')
    } finally {
      await gw.stop()
    }
  })
})
