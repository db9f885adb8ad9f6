"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.MESSAGE_HOOK_PRIORITY = exports.STATUS_METHOD = exports.PLUGIN_ID = void 0;
exports.processHolder = processHolder;
exports.createPlugin = createPlugin;
// The plugin object: register(api) wires the service (one RetryEngine per gateway), the hooks,
// the operator gateway methods (retryEngine.status|list|retry|drop|metrics) and the
// `openclaw retry-engine` CLI. Safe to call register() more than once.
const config_js_1 = require("./config.js");
const cli_js_1 = require("./cli.js");
const engine_options_js_1 = require("./engine-options.js");
const hooks_js_1 = require("./hooks.js");
const log_js_1 = require("./log.js");
const manifest_js_1 = require("./manifest.js");
const operator = __importStar(require("./operator.js"));
const operator_js_1 = require("./operator.js");
const runtime_js_1 = require("./runtime.js");
var manifest_js_2 = require("./manifest.js");
Object.defineProperty(exports, "PLUGIN_ID", { enumerable: true, get: function () { return manifest_js_2.PLUGIN_ID; } });
/** Gateway method that returns the plugin's state. */
exports.STATUS_METHOD = operator_js_1.METHODS.status.name;
/** Priority of the message_sending hook (higher runs first). */
exports.MESSAGE_HOOK_PRIORITY = 100;
const silent = { info() { }, warn() { }, error() { } };
/**
 * The holder of the default export. It lives on `globalThis` because the gateway may evaluate
 * this module more than once (its "full" and "discovery" registrations got separate module
 * instances on 2026.9.6: the service started in one, the hooks fired in the other).
 */
function processHolder() {
    const key = Symbol.for('openclaw-retry-engine.plugin-runtime');
    const g = globalThis;
    g[key] ??= { runtime: null, starting: null, failure: null };
    return g[key];
}
function errorText(err) {
    const e = err;
    return {
        code: typeof e?.code === 'string' ? e.code : 'E_START_FAILED',
        message: typeof e?.message === 'string' ? e.message : String(err),
    };
}
/** Builds a plugin object; the default export is `createPlugin()` with the real addon. */
function createPlugin(deps = {}, loadAddon, holder = { runtime: null, starting: null }) {
    const engineClass = () => deps.RetryEngine ?? loadAddon?.().RetryEngine;
    /** Builds and starts an engine; never touches `holder` (a failed start leaves the old one up). */
    async function launch(ctx, cfg, logger) {
        const counters = (0, runtime_js_1.newCounters)();
        const writes = new Set();
        let engine;
        const options = {
            ...(0, engine_options_js_1.engineOptions)(cfg, ctx.stateDir, ctx.config, deps.env ?? process.env),
            ...deps.extraEngineOptions,
            onEvent: (event) => {
                if (event.type === 'parked') {
                    counters.parkedBySession[event.sessionKey] = (counters.parkedBySession[event.sessionKey] ?? 0) + 1;
                }
                if (operator_js_1.COUNTED_EVENTS.has(event.type) && engine) {
                    const write = engine
                        .addCounter(event.type)
                        .catch((err) => logger.warn(`retry-engine could not count ${event.type}: ${errorText(err).message}`))
                        .finally(() => writes.delete(write));
                    writes.add(write);
                }
                (0, log_js_1.logEvent)(logger, event);
            },
        };
        const Engine = engineClass();
        if (!Engine)
            throw Object.assign(new Error('the openclaw-retry-engine native addon could not be loaded'), { code: 'E_ADDON' });
        engine = new Engine(options);
        try {
            await engine.start();
        }
        catch (err) {
            await engine.close().catch(() => { });
            throw err;
        }
        logger.info(`retry-engine started (state ${options.stateDir}, gateway ${options.gateway.url})`);
        return { engine, config: cfg, logger, counters, seenRuns: new Map(), writes };
    }
    async function startService(ctx, cfg, apiLogger) {
        if (holder.starting)
            return holder.starting;
        const logger = ctx?.logger ?? apiLogger;
        const previous = holder.runtime;
        if (previous && previous.config === cfg)
            return undefined;
        holder.starting = (async () => {
            try {
                const next = await launch(ctx, cfg, logger);
                // A new config (hot reload): the new engine runs before the old one is closed.
                holder.runtime = next;
                holder.failure = null;
                if (previous)
                    await closeRuntime(previous);
            }
            catch (err) {
                const { code, message } = errorText(err);
                holder.failure = { code, message, atMs: Date.now() };
                logger.error(`retry-engine FAILED TO START (${code}): ${message}. ` +
                    (previous ? 'The previous engine keeps running with the previous config. ' : 'Parked sessions are not resumed until this is fixed. ') +
                    'See `openclaw gateway call retryEngine.status --json`.');
                throw new Error(`retry-engine failed to start (${code}): ${message}`);
            }
            finally {
                holder.starting = null;
            }
        })();
        return holder.starting;
    }
    async function closeRuntime(rt) {
        await Promise.all([...(rt.writes ?? [])]);
        await rt.engine.close().catch((err) => rt.logger.warn(`retry-engine close failed: ${errorText(err).message}`));
    }
    async function stopService() {
        await holder.starting?.catch(() => { });
        const rt = holder.runtime;
        holder.runtime = null;
        if (rt) {
            await closeRuntime(rt);
            rt.logger.info('retry-engine stopped (parked sessions are kept)');
        }
    }
    const method = (fn) => async ({ params, respond }) => {
        try {
            respond(true, await fn(params ?? {}));
        }
        catch (err) {
            const code = err instanceof operator_js_1.OperatorError ? err.code : 'UNAVAILABLE';
            respond(false, undefined, { code, message: errorText(err).message });
        }
    };
    return {
        id: manifest_js_1.PLUGIN_ID,
        name: manifest_js_1.PLUGIN_NAME,
        description: manifest_js_1.PLUGIN_DESCRIPTION,
        register(api) {
            const cfg = (0, config_js_1.parseConfig)(api.pluginConfig);
            const logger = api.logger ?? silent;
            api.registerService({
                id: `${manifest_js_1.PLUGIN_ID}-service`,
                start: (ctx) => startService(ctx, cfg, logger),
                stop: () => stopService(),
            });
            api.on('agent_end', (event, ctx) => (0, hooks_js_1.onAgentEnd)(holder.runtime, event, ctx));
            api.on('message_sending', (event, ctx) => (0, hooks_js_1.onMessageSending)(holder.runtime, event, ctx), {
                priority: exports.MESSAGE_HOOK_PRIORITY,
            });
            if (typeof api.registerGatewayMethod === 'function') {
                const f = () => holder.failure ?? null;
                const handlers = [
                    ['status', () => operator.status(holder.runtime, f())],
                    ['list', () => operator.list(holder.runtime, f())],
                    ['metrics', () => operator.metrics(holder.runtime, f())],
                    ['retry', (p) => operator.retry(holder.runtime, p, f())],
                    ['drop', (p) => operator.drop(holder.runtime, p, f())],
                ];
                for (const [k, fn] of handlers)
                    api.registerGatewayMethod(operator_js_1.METHODS[k].name, method(fn), { scope: operator_js_1.METHODS[k].scope });
            }
            if (deps.cli && typeof api.registerCli === 'function') {
                const cli = deps.cli;
                api.registerCli(({ program }) => void (0, cli_js_1.registerCommands)(program, cli.call, cli.addOptions, cli.out), {
                    descriptors: [{ name: manifest_js_1.CLI_COMMAND, description: manifest_js_1.CLI_DESCRIPTION, hasSubcommands: true }],
                });
            }
        },
        /** The same object `retryEngine.status` returns (for tests and embedders). */
        status: () => operator.status(holder.runtime, holder.failure ?? null),
    };
}
