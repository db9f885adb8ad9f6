// The plugin object: register(api) wires the service (one RetryEngine per gateway), the hooks,
// the operator gateway methods (retryEngine.status|list|retry|drop|metrics) and the
// `openclaw retry-engine` CLI. Safe to call register() more than once.
import { parseConfig, type PluginConfig } from './config.js'
import { registerCommands, type AddGatewayOptions, type GatewayCall, type Out } from './cli.js'
import { engineOptions } from './engine-options.js'
import { onAgentEnd, onMessageSending } from './hooks.js'
import { logEvent, type Logger } from './log.js'
import { CLI_COMMAND, CLI_DESCRIPTION, PLUGIN_DESCRIPTION, PLUGIN_ID, PLUGIN_NAME } from './manifest.js'
import * as operator from './operator.js'
import { COUNTED_EVENTS, METHODS, OperatorError, type StartFailure } from './operator.js'
import { newCounters, type Runtime } from './runtime.js'

export { PLUGIN_ID } from './manifest.js'
/** Gateway method that returns the plugin's state. */
export const STATUS_METHOD = METHODS.status.name
/** Priority of the message_sending hook (higher runs first). */
export const MESSAGE_HOOK_PRIORITY = 100

/** The CLI's gateway access (from `openclaw/plugin-sdk/gateway-runtime`; absent in unit tests). */
export interface CliDeps {
  call: GatewayCall
  addOptions: AddGatewayOptions
  out: Out
}

/** What tests may replace: the engine class and extra engine options (e.g. a `resend` callback). */
export interface PluginDeps {
  RetryEngine?: new (options: any) => any
  extraEngineOptions?: Record<string, unknown>
  env?: Record<string, string | undefined>
  cli?: CliDeps
}

const silent: Logger = { info() {}, warn() {}, error() {} }

/** The started service, shared by every registration that uses the same holder. */
export interface RuntimeHolder {
  runtime: Runtime | null
  starting: Promise<void> | null
  /** Why the last start failed (cleared by a successful start). */
  failure?: StartFailure | null
}

/**
 * The holder of the default export. It lives on `globalThis` because the gateway may evaluate
 * this module more than once (its "full" and "discovery" registrations got separate module
 * instances on 2026.9.6: the service started in one, the hooks fired in the other).
 */
export function processHolder(): RuntimeHolder {
  const key = Symbol.for('openclaw-retry-engine.plugin-runtime')
  const g = globalThis as any
  g[key] ??= { runtime: null, starting: null, failure: null }
  return g[key]
}

function errorText(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown }
  return {
    code: typeof e?.code === 'string' ? e.code : 'E_START_FAILED',
    message: typeof e?.message === 'string' ? e.message : String(err),
  }
}

/** Builds a plugin object; the default export is `createPlugin()` with the real addon. */
export function createPlugin(deps: PluginDeps = {}, loadAddon?: () => any, holder: RuntimeHolder = { runtime: null, starting: null }) {
  const engineClass = () => deps.RetryEngine ?? loadAddon?.().RetryEngine

  /** Builds and starts an engine; never touches `holder` (a failed start leaves the old one up). */
  async function launch(ctx: any, cfg: PluginConfig, logger: Logger): Promise<Runtime> {
    const counters = newCounters()
    const writes = new Set<Promise<unknown>>()
    let engine: any
    const options = {
      ...engineOptions(cfg, ctx.stateDir, ctx.config, deps.env ?? process.env),
      ...deps.extraEngineOptions,
      onEvent: (event: any) => {
        if (event.type === 'parked') {
          counters.parkedBySession[event.sessionKey] = (counters.parkedBySession[event.sessionKey] ?? 0) + 1
        }
        if (COUNTED_EVENTS.has(event.type) && engine) {
          const write: Promise<unknown> = engine
            .addCounter(event.type)
            .catch((err: unknown) => logger.warn(`retry-engine could not count ${event.type}: ${errorText(err).message}`))
            .finally(() => writes.delete(write))
          writes.add(write)
        }
        logEvent(logger, event)
      },
    }
    const Engine = engineClass()
    if (!Engine) throw Object.assign(new Error('the openclaw-retry-engine native addon could not be loaded'), { code: 'E_ADDON' })
    engine = new Engine(options)
    try {
      await engine.start()
    } catch (err) {
      await engine.close().catch(() => {})
      throw err
    }
    logger.info(`retry-engine started (state ${options.stateDir}, gateway ${options.gateway.url})`)
    return { engine, config: cfg, logger, counters, seenRuns: new Map(), writes }
  }

  async function startService(ctx: any, cfg: PluginConfig, apiLogger: Logger) {
    if (holder.starting) return holder.starting
    const logger: Logger = ctx?.logger ?? apiLogger
    const previous = holder.runtime
    if (previous && previous.config === cfg) return undefined
    holder.starting = (async () => {
      try {
        const next = await launch(ctx, cfg, logger)
        // A new config (hot reload): the new engine runs before the old one is closed.
        holder.runtime = next
        holder.failure = null
        if (previous) await closeRuntime(previous)
      } catch (err) {
        const { code, message } = errorText(err)
        holder.failure = { code, message, atMs: Date.now() }
        logger.error(
          `retry-engine FAILED TO START (${code}): ${message}. ` +
            (previous ? 'The previous engine keeps running with the previous config. ' : 'Parked sessions are not resumed until this is fixed. ') +
            'See `openclaw gateway call retryEngine.status --json`.',
        )
        throw new Error(`retry-engine failed to start (${code}): ${message}`)
      } finally {
        holder.starting = null
      }
    })()
    return holder.starting
  }

  async function closeRuntime(rt: Runtime) {
    await Promise.all([...(rt.writes ?? [])])
    await rt.engine.close().catch((err: unknown) => rt.logger.warn(`retry-engine close failed: ${errorText(err).message}`))
  }

  async function stopService() {
    await holder.starting?.catch(() => {})
    const rt = holder.runtime
    holder.runtime = null
    if (rt) {
      await closeRuntime(rt)
      rt.logger.info('retry-engine stopped (parked sessions are kept)')
    }
  }

  type Respond = (ok: boolean, payload?: unknown, error?: unknown) => void
  const method = (fn: (params: any) => Promise<unknown>) => async ({ params, respond }: { params?: any; respond: Respond }) => {
    try {
      respond(true, await fn(params ?? {}))
    } catch (err) {
      const code = err instanceof OperatorError ? err.code : 'UNAVAILABLE'
      respond(false, undefined, { code, message: errorText(err).message })
    }
  }

  return {
    id: PLUGIN_ID,
    name: PLUGIN_NAME,
    description: PLUGIN_DESCRIPTION,
    register(api: any) {
      const cfg = parseConfig(api.pluginConfig)
      const logger: Logger = api.logger ?? silent
      api.registerService({
        id: `${PLUGIN_ID}-service`,
        start: (ctx: any) => startService(ctx, cfg, logger),
        stop: () => stopService(),
      })
      api.on('agent_end', (event: any, ctx: any) => onAgentEnd(holder.runtime, event, ctx))
      api.on('message_sending', (event: any, ctx: any) => onMessageSending(holder.runtime, event, ctx), {
        priority: MESSAGE_HOOK_PRIORITY,
      })
      if (typeof api.registerGatewayMethod === 'function') {
        const f = () => holder.failure ?? null
        const handlers: [keyof typeof METHODS, (p: any) => Promise<unknown>][] = [
          ['status', () => operator.status(holder.runtime, f())],
          ['list', () => operator.list(holder.runtime, f())],
          ['metrics', () => operator.metrics(holder.runtime, f())],
          ['retry', (p) => operator.retry(holder.runtime, p, f())],
          ['drop', (p) => operator.drop(holder.runtime, p, f())],
        ]
        for (const [k, fn] of handlers) api.registerGatewayMethod(METHODS[k].name, method(fn), { scope: METHODS[k].scope })
      }
      if (deps.cli && typeof api.registerCli === 'function') {
        const cli = deps.cli
        api.registerCli(({ program }: { program: any }) => void registerCommands(program, cli.call, cli.addOptions, cli.out), {
          descriptors: [{ name: CLI_COMMAND, description: CLI_DESCRIPTION, hasSubcommands: true }],
        })
      }
    },
    /** The same object `retryEngine.status` returns (for tests and embedders). */
    status: () => operator.status(holder.runtime, holder.failure ?? null),
  }
}
