"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.STOP_REASONS = void 0;
exports.gatewayTarget = gatewayTarget;
exports.oldQueuePath = oldQueuePath;
exports.engineOptions = engineOptions;
// Builds the RetryEngine options from the plugin settings and the gateway's own config:
// state dir, old-queue import, budget window, resolve-mode scheduler, and the gateway target.
const node_fs_1 = require("node:fs");
const node_path_1 = require("node:path");
/** Reasons that stop a cron job after `stopAfter` failures in a row. */
exports.STOP_REASONS = ['billing', 'auth', 'auth_permanent', 'format', 'context_overflow', 'model_not_found'];
/** Default port of an OpenClaw gateway. */
const DEFAULT_PORT = 18789;
/** Where and how to reach the gateway: plugin settings first, then the gateway's own. */
function gatewayTarget(cfg, openclawConfig, env) {
    const auth = openclawConfig?.gateway?.auth ?? {};
    const envPort = Number(env.OPENCLAW_GATEWAY_PORT);
    const cfgPort = openclawConfig?.gateway?.port;
    const port = Number.isInteger(envPort) && envPort > 0 ? envPort : Number.isInteger(cfgPort) && cfgPort > 0 ? cfgPort : DEFAULT_PORT;
    const text = (v) => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
    return {
        url: cfg.gatewayUrl ?? `ws://127.0.0.1:${port}`,
        token: cfg.gatewayToken ?? text(auth.token) ?? text(env.OPENCLAW_GATEWAY_TOKEN),
        password: cfg.gatewayPassword ?? text(auth.password) ?? text(env.OPENCLAW_GATEWAY_PASSWORD),
    };
}
/** The old `@cheapestinference/openclaw-ratelimit-retry` queue, when it exists and import is on. */
function oldQueuePath(cfg, openclawStateDir) {
    if (!cfg.importOldQueue)
        return undefined;
    const path = (0, node_path_1.join)(openclawStateDir, 'ratelimit-retry', 'queue.json');
    return (0, node_fs_1.existsSync)(path) ? path : undefined;
}
/** RetryEngine options (without callbacks) for a service whose state dir is `openclawStateDir`. */
function engineOptions(cfg, openclawStateDir, openclawConfig, env) {
    const target = gatewayTarget(cfg, openclawConfig, env);
    const importPath = oldQueuePath(cfg, openclawStateDir);
    const reasons = {};
    for (const r of exports.STOP_REASONS)
        reasons[r] = { stopAfter: cfg.stopAfter };
    return {
        stateDir: cfg.stateDir ?? (0, node_path_1.join)(openclawStateDir, 'retry-engine'),
        ...(cfg.budgetWindow ? { budgetWindow: cfg.budgetWindow } : {}),
        policy: { reasons },
        queue: { maxAttempts: cfg.maxAttempts, ...(importPath ? { importPath } : {}) },
        scheduler: {
            confirm: 'resolve',
            probeTimeoutMs: cfg.probeTimeoutMs,
            awaitTimeoutMs: cfg.probeTimeoutMs,
            releaseSpreadMs: cfg.releaseSpreadMs,
            maxConcurrent: cfg.maxConcurrent,
            resumeMessage: cfg.resumeMessage,
        },
        ...(cfg.redisUrl ? { state: { redis: { url: cfg.redisUrl, ...(cfg.redisKeyPrefix ? { keyPrefix: cfg.redisKeyPrefix } : {}) } } } : {}),
        gateway: {
            url: target.url,
            ...(target.token ? { token: target.token } : {}),
            ...(target.password ? { password: target.password } : {}),
            // cron.update (disabling a job) needs operator.admin.
            scopes: ['operator.read', 'operator.write', 'operator.admin'],
        },
    };
}
