// The plugin object: register(api) wires the service (one RetryEngine per gateway), the hooks
// and the `retryEngine.status` gateway method. Safe to call register() more than once.
import { parseConfig } from './config.js';
import { engineOptions } from './engine-options.js';
import { onAgentEnd, onMessageSending } from './hooks.js';
import { logEvent } from './log.js';
import { newCounters } from './runtime.js';
/** Plugin id (also the key under `plugins.entries`). */
export const PLUGIN_ID = 'retry-engine';
/** Gateway method that returns the plugin's state. */
export const STATUS_METHOD = 'retryEngine.status';
/** Priority of the message_sending hook (higher runs first). */
export const MESSAGE_HOOK_PRIORITY = 100;
const silent = { info() { }, warn() { }, error() { } };
/**
 * The holder of the default export. It lives on `globalThis` because the gateway may evaluate
 * this module more than once (its "full" and "discovery" registrations got separate module
 * instances on 2026.9.6: the service started in one, the hooks fired in the other).
 */
export function processHolder() {
    const key = Symbol.for('openclaw-retry-engine.plugin-runtime');
    const g = globalThis;
    g[key] ??= { runtime: null, starting: null };
    return g[key];
}
/** Builds a plugin object; the default export is `createPlugin()` with the real addon. */
export function createPlugin(deps = {}, loadAddon, holder = { runtime: null, starting: null }) {
    const engineClass = () => deps.RetryEngine ?? loadAddon?.().RetryEngine;
    async function startService(ctx, cfg, apiLogger) {
        if (holder.runtime || holder.starting)
            return holder.starting ?? undefined;
        const logger = ctx?.logger ?? apiLogger;
        const counters = newCounters();
        const options = {
            ...engineOptions(cfg, ctx.stateDir, ctx.config, deps.env ?? process.env),
            ...deps.extraEngineOptions,
            onEvent: (event) => {
                if (event.type === 'parked') {
                    counters.parkedBySession[event.sessionKey] = (counters.parkedBySession[event.sessionKey] ?? 0) + 1;
                }
                logEvent(logger, event);
            },
        };
        const Engine = engineClass();
        if (!Engine)
            throw new Error('retry-engine: the openclaw-retry-engine addon could not be loaded');
        const engine = new Engine(options);
        holder.starting = (async () => {
            try {
                await engine.start();
                holder.runtime = { engine, config: cfg, logger, counters, seenRuns: new Map() };
                logger.info(`retry-engine started (state ${options.stateDir}, gateway ${options.gateway.url})`);
            }
            catch (err) {
                await engine.close().catch(() => { });
                throw err;
            }
            finally {
                holder.starting = null;
            }
        })();
        return holder.starting;
    }
    async function stopService() {
        await holder.starting?.catch(() => { });
        const rt = holder.runtime;
        holder.runtime = null;
        if (rt) {
            await rt.engine.close();
            rt.logger.info('retry-engine stopped (parked sessions are kept)');
        }
    }
    async function status() {
        const rt = holder.runtime;
        if (!rt)
            return { running: false };
        const [stats, pending] = await Promise.all([rt.engine.stats(), rt.engine.pending()]);
        return {
            running: true,
            stats,
            pending: pending.map((e) => ({
                sessionKey: e.sessionKey,
                reason: e.reason,
                status: e.status,
                attempts: e.attempts,
                retryAtMs: e.retryAtMs,
                group: e.group,
                lastError: e.lastError,
            })),
            counters: rt.counters,
        };
    }
    return {
        id: PLUGIN_ID,
        name: 'Retry engine',
        description: 'Parks sessions that failed on provider rate limits and quotas and resumes them when the window resets; disables cron jobs that waiting cannot fix.',
        register(api) {
            const cfg = parseConfig(api.pluginConfig);
            const logger = api.logger ?? silent;
            api.registerService({
                id: `${PLUGIN_ID}-service`,
                start: (ctx) => startService(ctx, cfg, logger),
                stop: () => stopService(),
            });
            api.on('agent_end', (event, ctx) => onAgentEnd(holder.runtime, event, ctx));
            api.on('message_sending', (event, ctx) => onMessageSending(holder.runtime, event, ctx), {
                priority: MESSAGE_HOOK_PRIORITY,
            });
            if (typeof api.registerGatewayMethod === 'function') {
                api.registerGatewayMethod(STATUS_METHOD, async ({ respond }) => {
                    try {
                        respond(true, await status());
                    }
                    catch (err) {
                        respond(false, undefined, { code: 'UNAVAILABLE', message: err instanceof Error ? err.message : String(err) });
                    }
                }, { scope: 'operator.read' });
            }
        },
        /** The same object `retryEngine.status` returns (for tests and embedders). */
        status,
    };
}
