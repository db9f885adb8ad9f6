// The OpenClaw plugin in plugin/ driven through register(api) with a fake `api`, against the
// real addon (the gateway calls are stubbed). The real gateway is in e2e/plugin.test.mjs.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, test } from 'node:test'
import { createPlugin, STATUS_METHOD } from '../plugin/dist/plugin.js'
import { configSchema, FIELDS, parseConfig, PluginConfigError, uiHints } from '../plugin/dist/config.js'
import { manifest as buildManifest } from '../plugin/dist/manifest.js'
import { METHODS } from '../plugin/dist/operator.js'
import { render, table } from '../plugin/dist/cli.js'
import { engineOptions, gatewayTarget } from '../plugin/dist/engine-options.js'
import { cronJobId } from '../plugin/dist/hooks.js'

const require = createRequire(import.meta.url)
const { RetryEngine } = require('../index.js')
const manifest = JSON.parse(readFileSync(new URL('../openclaw.plugin.json', import.meta.url), 'utf8'))
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

// The daily quota's written reset, two hours ahead (so it is never closer than the per-minute hint).
const RESET_HOUR = String((new Date().getUTCHours() + 2) % 24).padStart(2, '0')
const QUOTA = `429 You exceeded your current quota: daily usage limit reached. It resets at ${RESET_HOUR}:00 UTC.`
const QUOTA_UNTIMED = '429 You exceeded your current quota: daily usage limit reached.'

/** An agent_end event as the real gateway sends it for a provider error: success true, error in the last message. */
function failedEnd(runId, errorMessage = QUOTA, extra = {}) {
  return {
    runId,
    success: true,
    durationMs: 800,
    messages: [
      { role: 'user', content: 'do the thing' },
      { role: 'assistant', content: [], provider: 'fake', model: 'fake-model', stopReason: 'error', errorMessage, ...extra },
    ],
  }
}

function okEnd(runId) {
  return {
    runId,
    success: true,
    durationMs: 500,
    messages: [
      { role: 'user', content: 'do the thing' },
      { role: 'assistant', content: [{ type: 'text', text: 'done, rate limits were discussed' }], stopReason: 'stop' },
    ],
  }
}

const BILLING = {
  errorMessage: '429 You exceeded your current quota, please check your plan and billing details.',
  errorCode: 'insufficient_quota',
  errorType: 'insufficient_quota',
}

function fakeApi(pluginConfig, registrationMode = 'full') {
  const rec = { hooks: {}, services: [], methods: {}, logs: [] }
  const push = (level) => (m) => rec.logs.push({ level, m })
  rec.api = {
    id: 'retry-engine',
    registrationMode,
    pluginConfig,
    logger: { info: push('info'), warn: push('warn'), error: push('error'), debug: push('debug') },
    on(name, fn, opts) {
      ;(rec.hooks[name] ??= []).push({ fn, opts })
    },
    registerService(s) {
      rec.services.push(s)
    },
    registerGatewayMethod(name, fn, opts) {
      rec.methods[name] = { fn, opts }
    },
  }
  return rec
}

/** Engine whose gateway calls are recorded instead of sent. */
function stubbedEngine(calls) {
  return class extends RetryEngine {
    gatewayRequest(method, params) {
      calls.push({ method, params })
      return Promise.resolve({ ok: true })
    }
  }
}

const dirs = []
const started = []
function stateDir() {
  const d = mkdtempSync(join(tmpdir(), 'plugin-test-'))
  dirs.push(d)
  return d
}
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop().catch(() => {})
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Registers and starts the plugin; returns the recorder and helpers to fire hooks. */
async function startPlugin({ config = {}, deps = {}, ctx = {} } = {}) {
  const plugin = createPlugin({ env: {}, ...deps }, () => ({ RetryEngine }))
  const rec = fakeApi(config)
  plugin.register(rec.api)
  const dir = ctx.stateDir ?? stateDir()
  const svcCtx = { stateDir: dir, config: { gateway: { port: 1 } }, logger: rec.api.logger, ...ctx }
  await rec.services[0].start(svcCtx)
  started.push({ stop: () => rec.services[0].stop(svcCtx) })
  const agentEnd = (event, c) => rec.hooks.agent_end[0].fn(event, c)
  const sending = (event, c) => rec.hooks.message_sending[0].fn(event, c)
  const status = async () => {
    let out
    await rec.methods[STATUS_METHOD].fn({ params: {}, respond: (ok, payload, error) => (out = { ok, payload, error }) })
    return out
  }
  return { plugin, rec, dir, agentEnd, sending, status }
}

describe('plugin manifest and entry', () => {
  test('the manifest names the plugin and documents every setting the entry accepts', () => {
    assert.equal(manifest.id, 'retry-engine')
    assert.deepEqual(manifest, buildManifest(), 'openclaw.plugin.json is what `npm run build:plugin` writes')
    assert.equal(manifest.configSchema.additionalProperties, false)
    const props = manifest.configSchema.properties
    for (const [k, v] of Object.entries(props)) assert.ok(v.description, `${k} has a description`)
    // Every documented key parses, and every key the parser knows is documented.
    assert.throws(() => parseConfig({ bogus: 1 }), (e) => {
      for (const k of Object.keys(props)) assert.ok(e.message.includes(k), `${k} is known to the parser`)
      return e instanceof PluginConfigError && e.message.includes('`bogus`')
    })
  })

  test('defaults are safe and bad values name the field', () => {
    const d = parseConfig(undefined)
    assert.equal(d.resumeMessage, 'Continue where you left off.')
    assert.equal(d.maxAttempts, 5)
    assert.equal(d.stopAfter, 1)
    assert.equal(d.disableCronJobs, true)
    assert.equal(d.budgetWindow, undefined)
    const bad = [
      [{ maxAttempts: 0 }, /`maxAttempts`: expected an integer from 1 to 100, got number/],
      [{ budgetWindow: '5 hours' }, /`budgetWindow`: expected a window such as "30s"/],
      [{ gatewayUrl: 'http://x' }, /`gatewayUrl`: expected a ws:\/\/ URL/],
      [{ stateDir: 'relative/dir' }, /`stateDir`: expected an absolute path/],
      [{ disableCronJobs: 'yes' }, /`disableCronJobs`: expected true or false, got "yes"/],
      [{ resumeMessage: '' }, /`resumeMessage`: expected a non-empty string/],
      [[], /`\(root\)`: expected an object, got an array/],
    ]
    for (const [input, re] of bad) assert.throws(() => parseConfig(input), re)
  })

  test('register() records the service, both hooks and the status method, in every registration', () => {
    const plugin = createPlugin({ env: {} }, () => ({ RetryEngine }))
    for (const mode of ['full', 'discovery']) {
      const rec = fakeApi({}, mode)
      plugin.register(rec.api)
      assert.deepEqual(Object.keys(rec.hooks).sort(), ['agent_end', 'message_sending'])
      assert.equal(rec.hooks.message_sending[0].opts.priority, 100)
      assert.equal(rec.services.length, 1)
      assert.equal(rec.services[0].id, 'retry-engine-service')
      assert.equal(rec.methods[STATUS_METHOD].opts.scope, 'operator.read')
    }
  })

  test('a wrong config fails register() with the field in the message', () => {
    const plugin = createPlugin({ env: {} }, () => ({ RetryEngine }))
    assert.throws(() => plugin.register(fakeApi({ maxConcurrent: 1000 }).api), /`maxConcurrent`/)
  })
})

describe('engine options', () => {
  test('gateway target: plugin config, then the gateway config, then its environment', () => {
    const base = parseConfig({})
    const env = { OPENCLAW_GATEWAY_PORT: '4242', OPENCLAW_GATEWAY_TOKEN: 'env-token' }
    assert.deepEqual(gatewayTarget(base, {}, env), { url: 'ws://127.0.0.1:4242', token: 'env-token', password: undefined })
    const cfg = { gateway: { port: 5555, auth: { token: 'cfg-token' } } }
    assert.deepEqual(gatewayTarget(base, cfg, {}), { url: 'ws://127.0.0.1:5555', token: 'cfg-token', password: undefined })
    assert.equal(gatewayTarget(base, {}, {}).url, 'ws://127.0.0.1:18789')
    // A secret reference object is not a token.
    assert.equal(gatewayTarget(base, { gateway: { auth: { token: { source: 'env' } } } }, {}).token, undefined)
    const own = parseConfig({ gatewayUrl: 'ws://10.0.0.2:1', gatewayToken: 'mine' })
    assert.deepEqual(gatewayTarget(own, cfg, env), { url: 'ws://10.0.0.2:1', token: 'mine', password: undefined })
  })

  test('state under <stateDir>/retry-engine, resolve-mode scheduler, admin scope, stop-after for stop reasons', () => {
    const o = engineOptions(parseConfig({ budgetWindow: '1d', stopAfter: 3 }), '/var/oc', {}, {})
    assert.equal(o.stateDir, '/var/oc/retry-engine')
    assert.equal(o.budgetWindow, '1d')
    assert.equal(o.scheduler.confirm, 'resolve')
    assert.ok(o.gateway.scopes.includes('operator.admin'))
    assert.equal(o.policy.reasons.billing.stopAfter, 3)
    assert.equal(o.queue.importPath, undefined)
    assert.doesNotThrow(() => new RetryEngine(o))
  })
})

describe('plugin service and hooks', () => {
  test('start creates the engine under the state dir; stop closes it; status follows', async () => {
    const { rec, dir, status } = await startPlugin()
    let s = await status()
    assert.equal(s.ok, true)
    assert.equal(s.payload.running, true)
    assert.equal(s.payload.stats.stateDir, join(dir, 'retry-engine'))
    await rec.services[0].stop({})
    s = await status()
    assert.deepEqual(s.payload, { running: false })
    assert.ok(rec.logs.some((l) => /retry-engine started/.test(l.m)))
  })

  test('a second registration shares the started engine (the gateway registers twice)', async () => {
    const plugin = createPlugin({ env: {} }, () => ({ RetryEngine }))
    const full = fakeApi({}, 'full')
    const discovery = fakeApi({}, 'discovery')
    plugin.register(full.api)
    plugin.register(discovery.api)
    const ctx = { stateDir: stateDir(), config: {}, logger: full.api.logger }
    await full.services[0].start(ctx)
    await discovery.services[0].start(ctx) // no second engine on the same state dir
    started.push({ stop: () => full.services[0].stop(ctx) })
    await discovery.hooks.agent_end[0].fn(failedEnd('run-d'), { sessionKey: 'agent:main:d', modelProviderId: 'fake' })
    const s = await plugin.status()
    assert.equal(s.pending.length, 1)
    assert.equal(s.pending[0].sessionKey, 'agent:main:d')
  })

  test('a provider 429 on agent_end (success: true) parks the session once per run', async () => {
    const { agentEnd, status } = await startPlugin({ config: { resumeMessage: 'please go on' } })
    const ctx = { sessionKey: 'agent:main:a', modelProviderId: 'fake', trigger: 'user' }
    const perMinute = '429 Rate limit reached for requests per min (RPM). Please try again in 1s.; Retry-After: 1 seconds'
    await agentEnd(failedEnd('run-1', perMinute), ctx)
    const first = (await status()).payload.pending[0]
    assert.ok(first.retryAtMs < Date.now() + 10_000, 'the per-minute hint')
    // The gateway's own retry of the same run ends on the daily quota: no new attempt, but the
    // final failure's window decides when to resend.
    await agentEnd(failedEnd('run-1'), ctx)
    const s = (await status()).payload
    assert.equal(s.pending.length, 1)
    const [entry] = s.pending
    assert.equal(entry.sessionKey, 'agent:main:a')
    assert.equal(entry.reason, 'quota')
    assert.equal(entry.attempts, 1)
    assert.equal(entry.group, 'fake')
    assert.ok(entry.retryAtMs > first.retryAtMs, 'the quota window, not the per-minute hint')
    assert.deepEqual(s.counters.parkedBySession, { 'agent:main:a': 2 }, 'one parked event per agent_end')
    assert.equal(s.stats.keys['agent:main:a'].lastErrorReason, 'quota')
    assert.ok(s.stats.keys['agent:main:a'].cooldownUntilMs > Date.now())
    // A new run of the same session that fails again updates the one entry.
    await agentEnd(failedEnd('run-2'), ctx)
    const again = (await status()).payload
    assert.equal(again.pending.length, 1)
    assert.equal(again.pending[0].attempts, 2)
  })

  test('a successful agent_end resolves the parked session', async () => {
    const { agentEnd, status } = await startPlugin()
    const ctx = { sessionKey: 'agent:main:b', modelProviderId: 'fake' }
    await agentEnd(failedEnd('run-1'), ctx)
    assert.equal((await status()).payload.pending.length, 1)
    await agentEnd(okEnd('run-2'), ctx)
    const s = (await status()).payload
    assert.equal(s.pending.length, 0)
    assert.equal(s.counters.resolved, 1)
    assert.equal(s.stats.keys['agent:main:b'], undefined)
  })

  test('billing is not parked (waiting cannot fix it)', async () => {
    const { agentEnd, status, rec } = await startPlugin()
    await agentEnd(failedEnd('run-1', BILLING.errorMessage, BILLING), { sessionKey: 'agent:main:c', modelProviderId: 'fake' })
    const s = (await status()).payload
    assert.equal(s.pending.length, 0)
    assert.equal(s.stats.keys['agent:main:c'].lastErrorReason, 'billing')
    assert.ok(rec.logs.some((l) => l.level === 'warn' && /retry-engine rejected/.test(l.m)))
  })

  test('a parked session is resent with the resume message when its window resets, and confirmed by agent_end', async () => {
    const resent = []
    let onResend
    const got = new Promise((r) => (onResend = r))
    const { agentEnd, status } = await startPlugin({
      config: { budgetWindow: '1s', resumeMessage: 'carry on' },
      deps: { extraEngineOptions: { resend: (req) => (resent.push(req), onResend(req)) } },
    })
    const ctx = { sessionKey: 'agent:main:r', modelProviderId: 'fake' }
    // No written reset: the configured window decides (a provider's written reset would win).
    await agentEnd(failedEnd('run-1', QUOTA_UNTIMED), ctx)
    const req = await got
    assert.equal(req.sessionKey, 'agent:main:r')
    assert.equal(req.message, 'carry on')
    assert.match(req.idempotencyKey, /^resume:agent:main:r:/)
    assert.equal((await status()).payload.pending.length, 1)
    await agentEnd(okEnd(req.idempotencyKey), ctx)
    const s = (await status()).payload
    assert.equal(s.pending.length, 0)
    assert.equal(resent.length, 1)
  })

  test('message_sending: normal replies pass; a repeated provider-error message is cancelled', async () => {
    const { sending, status } = await startPlugin()
    const ctx = { channelId: 'webchat', conversationId: 'agent:main:m', sessionKey: 'agent:main:m' }
    const err = { to: 'agent:main:m', content: '⚠️ LLM request failed (rate limited, HTTP 429).', metadata: { channel: 'webchat' } }
    const reply = { to: 'agent:main:m', content: 'Here is how rate limits work: back off and retry.', metadata: { channel: 'webchat' } }
    assert.equal(sending(reply, ctx), undefined)
    assert.equal(sending(err, ctx), undefined, 'the first error message reaches the user')
    assert.deepEqual(sending(err, ctx), { cancel: true, cancelReason: 'retry-engine: repeated provider error message' })
    assert.equal(sending(reply, ctx), undefined, 'a normal reply always passes')
    // Another room is independent.
    assert.equal(sending({ ...err, to: 'agent:main:other' }, ctx), undefined)
    assert.equal((await status()).payload.counters.cancelledMessages, 1)
  })

  test('message_sending passes everything when cancelRepeatedErrors is false', async () => {
    const { sending } = await startPlugin({ config: { cancelRepeatedErrors: false } })
    const err = { to: 'agent:main:m', content: '⚠️ LLM request failed (rate limited, HTTP 429).' }
    assert.equal(sending(err, {}), undefined)
    assert.equal(sending(err, {}), undefined)
  })

  test('cron: billing disables the job through cron.update once and alerts once', async () => {
    const calls = []
    const { agentEnd, rec, status } = await startPlugin({ deps: { RetryEngine: stubbedEngine(calls) } })
    const ctx = { sessionKey: 'agent:main:cron:job-1', jobId: 'job-1', trigger: 'cron', modelProviderId: 'fake' }
    await agentEnd(failedEnd('cron-run-1', BILLING.errorMessage, BILLING), ctx)
    await agentEnd(failedEnd('cron-run-2', BILLING.errorMessage, BILLING), ctx)
    assert.deepEqual(calls, [{ method: 'cron.update', params: { id: 'job-1', patch: { enabled: false } } }])
    const alerts = rec.logs.filter((l) => /retry-engine alert: cron job job-1 failed with billing/.test(l.m))
    assert.equal(alerts.length, 1)
    const s = (await status()).payload
    assert.deepEqual(s.counters.disabledCronJobs, ['job-1'])
    assert.equal(s.stats.keys['cron:job-1'].lastErrorReason, 'billing')
    assert.ok(s.stats.keys['cron:job-1'].disabledUntilMs > Date.now())
  })

  test('cron: rate limits keep the job enabled; stopAfter counts billing failures in a row', async () => {
    const calls = []
    const { agentEnd, status } = await startPlugin({ config: { stopAfter: 2 }, deps: { RetryEngine: stubbedEngine(calls) } })
    const ctx = { sessionKey: 'agent:main:cron:job-2', jobId: 'job-2', trigger: 'cron', modelProviderId: 'fake' }
    const rl = 'Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 20s.'
    for (let i = 0; i < 4; i++) await agentEnd(failedEnd(`rl-${i}`, `429 ${rl}`, { errorCode: 'rate_limit_exceeded' }), ctx)
    assert.deepEqual(calls, [])
    const key = (await status()).payload.stats.keys['cron:job-2']
    assert.equal(key.lastErrorReason, 'rate_limit')
    assert.equal(key.disabled, false)
    await agentEnd(failedEnd('b-1', BILLING.errorMessage, BILLING), ctx)
    assert.deepEqual(calls, [])
    await agentEnd(failedEnd('b-2', BILLING.errorMessage, BILLING), ctx)
    assert.deepEqual(calls, [{ method: 'cron.update', params: { id: 'job-2', patch: { enabled: false } } }])
  })

  test('cron: the job id comes from the isolated run session key when ctx.jobId is absent (as on 2026.9.6)', async () => {
    const calls = []
    const { agentEnd } = await startPlugin({ deps: { RetryEngine: stubbedEngine(calls) } })
    const ctx = { sessionKey: 'agent:main:cron:66bd15a7-48ae:run:35a749ed-7c1f', trigger: 'cron', modelProviderId: 'fake' }
    await agentEnd(failedEnd('cron-run-9', BILLING.errorMessage, BILLING), ctx)
    assert.deepEqual(calls, [{ method: 'cron.update', params: { id: '66bd15a7-48ae', patch: { enabled: false } } }])
    assert.equal(cronJobId({ sessionKey: 'agent:ops:cron:job-7' }), 'job-7')
    assert.equal(cronJobId({ sessionKey: 'agent:main:main' }), undefined)
    assert.equal(cronJobId({ jobId: 'explicit', sessionKey: 'agent:main:cron:other:run:x' }), 'explicit')
  })

  test('cron: disableCronJobs false never calls the gateway', async () => {
    const calls = []
    const { agentEnd } = await startPlugin({ config: { disableCronJobs: false }, deps: { RetryEngine: stubbedEngine(calls) } })
    await agentEnd(failedEnd('b-1', BILLING.errorMessage, BILLING), { sessionKey: 'k', jobId: 'job-3', trigger: 'cron' })
    assert.deepEqual(calls, [])
  })

  test('the old plugin queue under <stateDir>/ratelimit-retry/queue.json is imported at start', async () => {
    const dir = stateDir()
    mkdirSync(join(dir, 'ratelimit-retry'))
    const now = Date.now()
    writeFileSync(
      join(dir, 'ratelimit-retry', 'queue.json'),
      JSON.stringify([{ sessionKey: 'agent:main:old', errorTime: now - 1000, retryAfter: now + 3_600_000, errorMessage: 'rate limited', attempts: 0 }]),
    )
    const { status, rec } = await startPlugin({ ctx: { stateDir: dir } })
    const s = (await status()).payload
    assert.deepEqual(s.pending.map((e) => e.sessionKey), ['agent:main:old'])
    assert.ok(rec.logs.some((l) => /retry-engine imported/.test(l.m)))
  })

  test('hook errors are logged, never thrown, and no token reaches the log', async () => {
    const calls = []
    class Failing extends stubbedEngine(calls) {
      gatewayRequest() {
        return Promise.reject(new Error('E_GATEWAY_UNAVAILABLE: gateway down'))
      }
    }
    const { agentEnd, rec, status } = await startPlugin({
      config: { gatewayToken: 'super-secret-token-value' },
      deps: { RetryEngine: Failing },
    })
    await agentEnd(failedEnd('b-1', BILLING.errorMessage, BILLING), { sessionKey: 'k', jobId: 'job-4', trigger: 'cron' })
    assert.equal((await status()).payload.counters.errors, 1)
    assert.ok(rec.logs.some((l) => l.level === 'warn' && /gateway down/.test(l.m)))
    assert.ok(!rec.logs.some((l) => l.m.includes('super-secret-token-value')))
  })

  test('hooks before the service started do nothing', async () => {
    const plugin = createPlugin({ env: {} }, () => ({ RetryEngine }))
    const rec = fakeApi({})
    plugin.register(rec.api)
    assert.equal(await rec.hooks.agent_end[0].fn(failedEnd('x'), { sessionKey: 'k' }), undefined)
    assert.equal(rec.hooks.message_sending[0].fn({ to: 'k', content: 'x' }, {}), undefined)
  })
})

describe('one source of truth for the settings (manifest schema = plugin = engine)', () => {
  /** Valid samples of a field (its bounds and default), from FIELDS. */
  const valid = {
    gatewayUrl: ['ws://127.0.0.1:18789', 'ws://gw.internal:1/path'],
    gatewayToken: ['t', 'a token with spaces'],
    gatewayPassword: ['p'],
    resumeMessage: ['Continue.', ' go on '],
    budgetWindow: ['30s', '5m', '5h', '1d', '7d', '2w', '1mo', '999999d'],
    stateDir: ['/var/lib/x'],
    redisUrl: ['redis://127.0.0.1:6379/0', 'redis+unix:///tmp/redis.sock'],
    redisKeyPrefix: ['fleet-a:'],
  }
  const invalid = {
    gatewayUrl: ['wss://127.0.0.1:18789', 'http://x', 'ws://', 'ws:// x', ''],
    gatewayToken: ['', '   '],
    gatewayPassword: [''],
    resumeMessage: ['', '  '],
    budgetWindow: ['5 hours', '0d', '1y', '1000000d', 'd'],
    stateDir: ['relative/dir', ''],
    redisUrl: ['http://x', 'redis://'],
    redisKeyPrefix: ['', ' '],
  }
  for (const [key, f] of Object.entries(FIELDS)) {
    if (f.type === 'integer') {
      valid[key] = [f.minimum, f.maximum, f.default]
      invalid[key] = [f.minimum - 1, f.maximum + 1, 1.5, '3', null, true]
    } else if (f.type === 'boolean') {
      valid[key] = [true, false]
      invalid[key] = ['yes', 0, null]
    } else {
      invalid[key].push(1, null, ['x'])
    }
  }

  test('the manifest configSchema and uiHints are generated from FIELDS; credentials are sensitive', () => {
    assert.deepEqual(manifest.configSchema, configSchema())
    assert.deepEqual(manifest.uiHints, uiHints())
    assert.deepEqual(Object.keys(manifest.configSchema.properties), Object.keys(FIELDS))
    for (const k of ['gatewayToken', 'gatewayPassword']) assert.equal(manifest.uiHints[k].sensitive, true)
    assert.equal(manifest.configSchema.properties.gatewayUrl.pattern, '^ws://\\S+$')
    assert.equal(manifest.activation.onStartup, true)
    assert.deepEqual(manifest.backupResources, [{ disposition: 'include', scope: 'state', relativePath: 'retry-engine' }])
    assert.deepEqual(manifest.cliCommands.map((c) => c.name), ['retry-engine'])
  })

  test('every field both ways: what the schema allows the engine accepts, what the engine refuses the plugin refuses', () => {
    for (const key of Object.keys(FIELDS)) {
      for (const v of valid[key]) {
        const cfg = parseConfig({ [key]: v })
        const options = engineOptions(cfg, '/tmp/oc-state', {}, {})
        assert.doesNotThrow(() => new RetryEngine(options), `${key}=${JSON.stringify(v)} must be accepted by the engine`)
      }
      for (const v of invalid[key]) {
        assert.throws(() => parseConfig({ [key]: v }), (e) => e instanceof PluginConfigError && e.message.includes(`\`${key}\``), `${key}=${JSON.stringify(v)}`)
      }
    }
    // The engine itself refuses the values at the edges the plugin refuses (so the plugin is not
    // merely stricter by accident where the engine would have accepted them).
    const base = engineOptions(parseConfig({}), '/tmp/oc-state', {}, {})
    const refused = [
      { ...base, gateway: { ...base.gateway, url: 'wss://127.0.0.1:1' } },
      { ...base, scheduler: { ...base.scheduler, maxConcurrent: 0 } },
      { ...base, budgetWindow: '5 hours' },
      { ...base, queue: { ...base.queue, maxAttempts: 0 } },
    ]
    for (const o of refused) assert.throws(() => new RetryEngine(o), (e) => e.code === 'E_INVALID_OPTION')
  })

  test('package.json declares the plugin the way OpenClaw installs it', () => {
    assert.deepEqual(pkg.openclaw.extensions, ['./plugin/dist/index.js'])
    assert.deepEqual(pkg.openclaw.install.requiredPlatformPackages, Object.keys(pkg.optionalDependencies))
    assert.match(pkg.openclaw.compat.pluginApi, /^>=\d{4}\.\d+\.\d+$/)
    assert.equal(pkg.peerDependenciesMeta.openclaw.optional, true)
    for (const f of ['openclaw.plugin.json', 'plugin/dist/']) assert.ok(pkg.files.includes(f), f)
    // The entry requires the addon by package name (a self-reference), never by a path outside the package.
    const entry = readFileSync(new URL('../plugin/dist/index.js', import.meta.url), 'utf8')
    assert.match(entry, /require\("openclaw-retry-engine"\)/)
    assert.doesNotMatch(entry, /\.\.\/\.\.\//)
    assert.equal(require.resolve('openclaw-retry-engine'), require.resolve('../index.js'))
  })
})

describe('operator surface: list, retry, drop, status, counters', () => {
  test('register() adds every operator method with read/write scopes, and the CLI when the SDK is there', () => {
    const cliCalls = []
    const plugin = createPlugin({ env: {}, cli: { call: async () => ({}), addOptions: (c) => c, out: { log() {}, error() {}, fail() {} } } }, () => ({ RetryEngine }))
    const rec = fakeApi({})
    rec.api.registerCli = (fn, opts) => cliCalls.push({ fn, opts })
    plugin.register(rec.api)
    for (const m of Object.values(METHODS)) assert.equal(rec.methods[m.name].opts.scope, m.scope, m.name)
    assert.equal(METHODS.retry.scope, 'operator.write')
    assert.equal(METHODS.drop.scope, 'operator.write')
    assert.equal(METHODS.list.scope, 'operator.read')
    assert.deepEqual(cliCalls[0].opts.descriptors.map((d) => d.name), ['retry-engine'])
  })

  test('list says why; retry makes a session due through the scheduler; drop removes and logs the reason; counters persist', async () => {
    const resent = []
    const deps = { extraEngineOptions: { resend: async (r) => { resent.push(r.sessionKey); return { runId: 'r' } } } }
    const { rec, dir, agentEnd } = await startPlugin({ config: { budgetWindow: '1d', releaseSpreadMs: 0 }, deps })
    const call = async (name, params = {}) => {
      let out
      await rec.methods[name].fn({ params, respond: (ok, payload, error) => (out = { ok, payload, error }) })
      return out
    }
    const ctx = (k) => ({ sessionKey: k, modelProviderId: 'fake' })
    await agentEnd(failedEnd('run-a'), ctx('agent:main:a'))
    await agentEnd(failedEnd('run-b'), ctx('agent:main:b'))
    const listed = (await call(METHODS.list.name)).payload.sessions
    assert.deepEqual(listed.map((e) => e.sessionKey).sort(), ['agent:main:a', 'agent:main:b'])
    for (const e of listed) {
      assert.equal(e.reason, 'quota')
      assert.equal(e.group, 'fake')
      assert.match(e.lastError, /quota/)
      assert.match(e.why, /^quota after 1 attempt\(s\); waits until \d{4}-.*the quota window resets; group fake sends one probe first\)$/)
    }
    assert.deepEqual((await call(METHODS.retry.name, {})).error.code, 'INVALID_REQUEST')
    assert.deepEqual((await call(METHODS.retry.name, { sessionKey: 'x', group: 'y' })).error.code, 'INVALID_REQUEST')
    const r = await call(METHODS.retry.name, { sessionKey: 'agent:main:a' })
    assert.deepEqual(r.payload, { due: ['agent:main:a'], inFlight: [] })
    for (let i = 0; i < 200 && !resent.length; i++) await new Promise((res) => setTimeout(res, 10))
    assert.deepEqual(resent, ['agent:main:a'], 'resent as the probe of its group, once')
    const d = await call(METHODS.drop.name, { sessionKey: 'agent:main:b', reason: 'customer cancelled' })
    assert.equal(d.payload.dropped, true)
    assert.ok(rec.logs.some((l) => l.level === 'warn' && /dropped agent:main:b .*reason: "customer cancelled"/.test(l.m)))
    assert.equal((await call(METHODS.drop.name, { sessionKey: 'agent:main:b' })).payload.dropped, false)
    assert.equal((await call(METHODS.drop.name, { sessionKey: 'agent:main:b', reason: 5 })).error.code, 'INVALID_REQUEST')
    const s = (await call(METHODS.status.name)).payload
    assert.equal(s.lifetime.retried, 1)
    assert.equal(s.lifetime.dropped, 1)
    assert.equal(s.lifetime.parked, 2)
    assert.equal(s.settings.budgetWindow, '1d')

    // A new plugin on the same state dir (a restart) sees the same lifetime counters.
    await rec.services[0].stop({})
    const again = await startPlugin({ ctx: { stateDir: dir } })
    const after = (await again.status()).payload.lifetime
    assert.equal(after.retried, 1)
    assert.equal(after.dropped, 1)
    assert.equal(after.parked, 2)
  })

  test('a failed start is loud (error log, status error) and a failed restart keeps the running engine', async () => {
    const plugin = createPlugin({ env: {} }, () => ({ RetryEngine }))
    const rec = fakeApi({ gatewayToken: 'secret-token-xyz' })
    plugin.register(rec.api)
    const blocked = join(stateDir(), 'a-file')
    writeFileSync(blocked, 'x')
    const bad = { stateDir: join(blocked, 'sub'), config: {}, logger: rec.api.logger }
    await assert.rejects(rec.services[0].start(bad), /retry-engine failed to start \(E_IO\)/)
    assert.ok(rec.logs.some((l) => l.level === 'error' && /retry-engine FAILED TO START \(E_IO\)/.test(l.m)))
    const down = await plugin.status()
    assert.equal(down.running, false)
    assert.equal(down.error.code, 'E_IO')
    let listed
    await rec.methods[METHODS.list.name].fn({ params: {}, respond: (ok, payload, error) => (listed = { ok, error }) })
    assert.equal(listed.ok, false)
    assert.match(listed.error.message, /its start failed/)

    // Now running; a re-registration with new settings whose start fails leaves it running.
    const good = { stateDir: stateDir(), config: {}, logger: rec.api.logger }
    await rec.services[0].start(good)
    started.push({ stop: () => rec.services[0].stop(good) })
    assert.equal((await plugin.status()).running, true)
    const next = fakeApi({ maxConcurrent: 2, stateDir: join(blocked, 'other') })
    plugin.register(next.api)
    await assert.rejects(next.services[0].start(good))
    const s = await plugin.status()
    assert.equal(s.running, true, 'the previous engine keeps running')
    assert.equal(s.settings.maxConcurrent, 4)
    assert.equal(s.error.code, 'E_IO')
    assert.equal(s.settings.gatewayToken, '(set)')
    assert.ok(!JSON.stringify(s).includes('secret-token-xyz'))
    assert.ok(rec.logs.some((l) => l.level === "error" && /previous engine keeps running/.test(l.m)))
  })

  test('CLI rendering: tables for people, the payload for --json', () => {
    assert.equal(table(['A', 'LONG'], [['xx', 'y'], ['z', 'w']]), 'A   LONG\nxx  y\nz   w')
    assert.equal(render.list({ sessions: [] }), 'No parked sessions.')
    const out = render.list({ sessions: [{ sessionKey: 'k', reason: 'quota', status: 'parked', attempts: 2, retryAtMs: 0, group: 'g', lastError: 'e'.repeat(100), why: 'because' }] })
    assert.match(out, /^SESSION\s+REASON\s+STATUS\s+ATTEMPTS\s+DUE\s+GROUP\s+LAST ERROR\s+WHY\nk\s+quota\s+parked\s+2\s+1970-01-01T00:00:00Z\s+g\s+e{59}…\s+because$/)
    assert.match(render.status({ running: false, error: { code: 'E_IO', message: 'disk' } }), /NOT RUNNING — start failed: disk \(E_IO\)/)
    assert.match(render.retry({ due: ['a'], inFlight: ['b'] }), /Resending now.*: a\nAlready being resent: b/)
    assert.equal(render.drop({ dropped: false, sessionKey: 'k' }), 'k is not parked.')
  })
})
