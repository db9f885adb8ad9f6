// Starts a REAL OpenClaw gateway for end-to-end tests: isolated HOME / state dir / config in a
// temp dir, a fake model provider, loopback only, no network beyond 127.0.0.1.
//
//   if (!isAvailable()) return t.skip(skipReason())
//   const gw = await startGateway({ providerUrl: fake.url, token: 'test-token' })
//   gw.url      // ws://127.0.0.1:PORT
//   await gw.stop()
//
// Needs `node scripts/setup-openclaw.mjs` to have run (Node 24 + openclaw in the cache dir).

import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { installed, layout, OPENCLAW_VERSION } from '../../scripts/setup-openclaw.mjs'
import { RawClient } from './raw-client.mjs'

/** The model id the fake provider is registered with; the default agent model is `fake/<id>`. */
export const FAKE_MODEL = 'fake-model'

let availability
function checkAvailability() {
  if (availability) return availability
  const l = layout()
  if (!installed(l)) {
    availability = {
      ok: false,
      reason:
        `OpenClaw e2e SKIPPED: no finished install in ${l.dir}. ` +
        'Run `node scripts/setup-openclaw.mjs` (needs the npm registry; installs Node 24 + ' +
        `openclaw@${OPENCLAW_VERSION}), or set OPENCLAW_E2E_CACHE to a cache that has one.`,
    }
    return availability
  }
  const res = spawnSync(l.nodeBin, ['-e', "require('node:sqlite')"], { encoding: 'utf8' })
  availability =
    res.status === 0
      ? { ok: true, reason: '' }
      : { ok: false, reason: `OpenClaw e2e SKIPPED: ${l.nodeBin} cannot load node:sqlite: ${res.stderr.trim()}` }
  return availability
}

/** True when Node 24 and openclaw are installed in the cache dir so a gateway can start. */
export function isAvailable() {
  return checkAvailability().ok
}

/** Why e2e tests must skip (empty string when available). Loud and says how to fix it. */
export function skipReason() {
  return checkAvailability().reason
}

/** Finds a free 127.0.0.1 port: binds port 0, reads the port, closes. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** The gateway config object (strict JSON5 schema: unknown keys make the gateway exit 78). */
export function buildConfig({ providerUrl, port, plugins = [], pluginEntries = {}, models = [FAKE_MODEL], extra = {} }) {
  const config = {
    gateway: { mode: 'local', port, bind: 'loopback', auth: { mode: 'token' } },
    update: { checkOnStart: false },
    models: {
      mode: 'merge',
      catalogRefresh: { enabled: false },
      providers: {
        fake: {
          baseUrl: providerUrl,
          apiKey: 'fake-provider-key',
          api: 'openai-completions',
          models: models.map((id) => ({
            id,
            name: `Fake ${id}`,
            reasoning: false,
            input: ['text'],
            cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
            contextWindow: 128000,
            maxTokens: 4096,
          })),
        },
      },
    },
    agents: {
      defaults: {
        model: { primary: `fake/${models[0]}` },
        heartbeat: { every: '0m' },
      },
    },
  }
  if (plugins.length || Object.keys(pluginEntries).length) {
    config.plugins = { load: { paths: plugins }, entries: pluginEntries }
  }
  for (const [k, v] of Object.entries(extra)) config[k] = { ...(config[k] ?? {}), ...v }
  return config
}

/** Plugin entries that enable each id with `hooks.allowConversationAccess: true` (needed for agent_end). */
export function trustedEntries(ids, config = {}) {
  return Object.fromEntries(ids.map((id) => [id, { enabled: true, hooks: { allowConversationAccess: true }, config }]))
}

/**
 * Pids of all live descendants of `pid` (from /proc). The gateway starts some workers in
 * process groups of their own (e.g. dist/process/spawn-broker/worker.js), which a group kill misses.
 */
export function descendants(pid) {
  const children = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (!children.has(ppid)) children.set(ppid, [])
      children.get(ppid).push(Number(entry))
    } catch {}
  }
  const out = []
  const stack = [pid]
  while (stack.length) {
    for (const c of children.get(stack.pop()) ?? []) {
      out.push(c)
      stack.push(c)
    }
  }
  return out
}

/** Kills those of `pids` that still run a program from the openclaw cache (guards against pid reuse). */
function killAll(pids, signal) {
  const dir = layout().dir
  for (const p of pids) {
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) continue
      process.kill(p, signal)
    } catch {}
  }
}

/**
 * Runs the openclaw CLI (`openclaw <args>`) with `env` (e.g. a gateway's isolated env, see
 * startGateway's `cli`); resolves `{code, stdout, stderr}` (never rejects on a non-zero exit).
 */
export function runCli(env, args, { timeoutMs = 180_000, cwd } = {}) {
  const l = layout()
  return new Promise((resolve, reject) => {
    const child = spawn(l.nodeBin, [l.openclawEntry, ...args], { cwd: cwd ?? env.HOME, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })
    })
  })
}

const live = new Set()
process.once('exit', () => {
  for (const pid of live) {
    const family = descendants(pid)
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {}
    killAll(family, 'SIGKILL')
  }
})

/**
 * Starts a gateway and resolves once a `connect` gets hello-ok. Options:
 * `providerUrl` (the fake provider's /v1 base URL, required), `token` (gateway token, required),
 * `plugins` (plugin dirs for plugins.load.paths), `pluginEntries` (plugins.entries; see
 * trustedEntries), `port` (default: a free port), `readyTimeoutMs` (default 90 000),
 * `extraConfig` (top-level keys merged into the config), `env` (extra env vars), `keepTemp`
 * (default false: stop() deletes the temp dir with HOME, state and config), `prepare` (async
 * `({root, home, stateDir, configPath, env, cli})` run after the config is written and before
 * the first spawn, e.g. to `openclaw plugins install` into the isolated state dir).
 * Returns `{url, port, token, stateDir, configPath, root, home, env, readyMs, pid, exited, logs(),
 * waitForLog(re), cli(args), stop(), restart(), halt(), spawn(), waitReady()}`.
 */
export async function startGateway({
  providerUrl,
  token,
  plugins = [],
  pluginEntries = {},
  port,
  readyTimeoutMs = 90_000,
  extraConfig = {},
  env: extraEnv = {},
  keepTemp = false,
  prepare,
} = {}) {
  if (!providerUrl) throw new Error('startGateway: providerUrl is required (the fake provider url)')
  if (!token) throw new Error('startGateway: token is required (the gateway auth token)')
  if (!isAvailable()) throw new Error(skipReason())
  const l = layout()
  port ??= await freePort()
  const root = mkdtempSync(join(tmpdir(), 'openclaw-e2e-'))
  const home = join(root, 'home')
  const stateDir = join(root, 'state')
  const configPath = join(root, 'openclaw.json5')
  mkdirSync(home, { recursive: true })
  mkdirSync(stateDir, { recursive: true })
  writeFileSync(
    configPath,
    // logging.file inside the temp dir: the default log file is shared by every gateway on the host.
    `${JSON.stringify(buildConfig({ providerUrl, port, plugins, pluginEntries, extra: { logging: { file: join(root, 'gateway.log') }, ...extraConfig } }), null, 2)}\n`,
  )

  const env = {
    PATH: `${join(l.nodeBin, '..')}:/usr/bin:/bin`,
    HOME: home,
    TMPDIR: process.env.TMPDIR ?? tmpdir(),
    LANG: 'C.UTF-8',
    OPENCLAW_STATE_DIR: stateDir,
    OPENCLAW_CONFIG_PATH: configPath,
    OPENCLAW_GATEWAY_TOKEN: token,
    OPENCLAW_DISABLE_BONJOUR: '1',
    OPENCLAW_NO_RESPAWN: '1',
    OPENCLAW_SKIP_CHANNELS: '1',
    OPENCLAW_NO_AUTO_UPDATE: '1',
    NO_COLOR: '1',
    ...extraEnv,
  }
  let output = ''
  let child = null
  let exitInfo = null
  let exitWaiters = []
  const logWaiters = new Set()

  const redact = (s) => s.split(token).join('<token>')
  const spawnOnce = () => {
    exitInfo = null
    child = spawn(l.nodeBin, [l.openclawEntry, 'gateway', 'run', '--port', String(port)], {
      cwd: root,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    live.add(child.pid)
    const onData = (d) => {
      output += redact(d.toString('utf8'))
      for (const w of [...logWaiters]) w()
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const pid = child.pid
    child.once('exit', (code, signal) => {
      live.delete(pid)
      exitInfo = { code, signal }
      for (const w of exitWaiters) w(exitInfo)
      exitWaiters = []
      for (const w of [...logWaiters]) w()
    })
  }

  const waitExit = (timeoutMs) =>
    exitInfo
      ? Promise.resolve(exitInfo)
      : new Promise((resolve) => {
          const timer = setTimeout(() => resolve(null), timeoutMs)
          exitWaiters.push((info) => {
            clearTimeout(timer)
            resolve(info)
          })
        })

  const url = `ws://127.0.0.1:${port}`
  const waitReady = async () => {
    const t0 = Date.now()
    let last = 'no attempt yet'
    while (Date.now() - t0 < readyTimeoutMs) {
      if (exitInfo) {
        throw new Error(`gateway exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before ready.\n--- gateway log ---\n${output.slice(-6000)}`)
      }
      let c
      try {
        c = await RawClient.open(url, 2000)
        const res = await c.connectFrame({ token })
        if (res.ok) {
          c.close()
          return Date.now() - t0
        }
        last = `${res.error?.code} ${res.error?.details?.reason ?? res.error?.message}`
      } catch (err) {
        last = err.message
      } finally {
        c?.close()
      }
      await new Promise((r) => setTimeout(r, 250))
    }
    throw new Error(`gateway not ready after ${readyTimeoutMs} ms (last: ${last}).\n--- gateway log ---\n${output.slice(-6000)}`)
  }

  const stop = async ({ timeoutMs = 15_000 } = {}) => {
    if (!child || exitInfo) return exitInfo
    const pid = child.pid
    const family = descendants(pid)
    try {
      process.kill(-pid, 'SIGTERM')
    } catch {}
    let info = await waitExit(timeoutMs)
    if (!info) {
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {}
      info = await waitExit(5000)
    }
    // Workers that outlived the gateway: its process group, and those in groups of their own.
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {}
    killAll(family, 'SIGKILL')
    return info
  }

  const start = async () => {
    spawnOnce()
    try {
      return await waitReady()
    } catch (err) {
      await stop()
      throw err
    }
  }

  const cli = (args, opts) => runCli(env, args, opts)
  let readyMs
  try {
    if (prepare) await prepare({ root, home, stateDir, configPath, env, cli })
    readyMs = await start()
  } catch (err) {
    if (!keepTemp) rmSync(root, { recursive: true, force: true })
    throw err
  }

  return {
    url,
    port,
    token,
    root,
    home,
    stateDir,
    configPath,
    /** The gateway's environment (HOME, OPENCLAW_STATE_DIR, OPENCLAW_CONFIG_PATH, token, ...). */
    env,
    /** Runs the openclaw CLI against this gateway's state and config (see runCli). */
    cli,
    /** Milliseconds from spawn to the first hello-ok of the latest start. */
    get readyMs() {
      return readyMs
    },
    /** Pid of the current gateway process (its process group id too). */
    get pid() {
      return child?.pid
    },
    /** `{code, signal}` once the current process exited, else null. */
    get exited() {
      return exitInfo
    },
    /** Everything the gateway printed so far (stdout + stderr, token redacted). */
    logs: () => output,
    /** Resolves once the log matches `re` (rejects after `timeoutMs`). */
    waitForLog(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = output.match(re)
          if (m) {
            logWaiters.delete(check)
            clearTimeout(timer)
            resolve(m)
          }
        }
        const timer = setTimeout(() => {
          logWaiters.delete(check)
          reject(new Error(`gateway log never matched ${re} within ${timeoutMs} ms`))
        }, timeoutMs)
        logWaiters.add(check)
        check()
      })
    },
    /** SIGTERM to the whole process group, SIGKILL after `timeoutMs`; resolves with `{code, signal}`. */
    async stop(opts) {
      const info = await stop(opts)
      if (!keepTemp) rmSync(root, { recursive: true, force: true })
      return info
    },
    /** Stops the process and starts it again on the same port, state dir and config. */
    async restart(opts) {
      await stop(opts)
      readyMs = await start()
      return readyMs
    },
    /** Stops the process like stop() but keeps the temp dir (state, config) for a later spawn. */
    halt(opts) {
      return stop(opts)
    },
    /** Spawns the process again without waiting for ready (to probe the startup phase). */
    spawn() {
      if (child && !exitInfo) throw new Error('gateway is still running; halt() it first')
      spawnOnce()
    },
    /** Polls `connect` until hello-ok; resolves with the milliseconds it took. */
    waitReady,
  }
}
