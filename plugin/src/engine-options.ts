// Builds the RetryEngine options from the plugin settings and the gateway's own config:
// state dir, old-queue import, budget window, resolve-mode scheduler, and the gateway target.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { PluginConfig } from './config.js'

/** Reasons that stop a cron job after `stopAfter` failures in a row. */
export const STOP_REASONS = ['billing', 'auth', 'auth_permanent', 'format', 'context_overflow', 'model_not_found'] as const

/** Default port of an OpenClaw gateway. */
const DEFAULT_PORT = 18789

/** Where and how to reach the gateway: plugin settings first, then the gateway's own. */
export function gatewayTarget(cfg: PluginConfig, openclawConfig: any, env: Record<string, string | undefined>) {
  const auth = openclawConfig?.gateway?.auth ?? {}
  const envPort = Number(env.OPENCLAW_GATEWAY_PORT)
  const cfgPort = openclawConfig?.gateway?.port
  const port = Number.isInteger(envPort) && envPort > 0 ? envPort : Number.isInteger(cfgPort) && cfgPort > 0 ? cfgPort : DEFAULT_PORT
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined)
  return {
    url: cfg.gatewayUrl ?? `ws://127.0.0.1:${port}`,
    token: cfg.gatewayToken ?? text(auth.token) ?? text(env.OPENCLAW_GATEWAY_TOKEN),
    password: cfg.gatewayPassword ?? text(auth.password) ?? text(env.OPENCLAW_GATEWAY_PASSWORD),
  }
}

/** The old `@cheapestinference/openclaw-ratelimit-retry` queue, when it exists and import is on. */
export function oldQueuePath(cfg: PluginConfig, openclawStateDir: string): string | undefined {
  if (!cfg.importOldQueue) return undefined
  const path = join(openclawStateDir, 'ratelimit-retry', 'queue.json')
  return existsSync(path) ? path : undefined
}

/** RetryEngine options (without callbacks) for a service whose state dir is `openclawStateDir`. */
export function engineOptions(cfg: PluginConfig, openclawStateDir: string, openclawConfig: any, env: Record<string, string | undefined>) {
  const target = gatewayTarget(cfg, openclawConfig, env)
  const importPath = oldQueuePath(cfg, openclawStateDir)
  const reasons: Record<string, { stopAfter: number }> = {}
  for (const r of STOP_REASONS) reasons[r] = { stopAfter: cfg.stopAfter }
  return {
    stateDir: cfg.stateDir ?? join(openclawStateDir, 'retry-engine'),
    ...(cfg.budgetWindow ? { budgetWindow: cfg.budgetWindow } : {}),
    policy: { reasons },
    queue: { maxAttempts: cfg.maxAttempts, ...(importPath ? { importPath } : {}) },
    scheduler: {
      confirm: 'resolve' as const,
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
  }
}
