// The plugin's own settings (`plugins.entries.retry-engine.config`): validated once, with a
// message naming the field and what to write instead, and safe defaults for everything.

/** Validated plugin settings. Every field has a default; see openclaw.plugin.json. */
export interface PluginConfig {
  /** Gateway WebSocket URL for resends and cron.update. Default: this gateway on 127.0.0.1. */
  gatewayUrl?: string
  /** Gateway token. Default: the gateway's own (`gateway.auth.token` or $OPENCLAW_GATEWAY_TOKEN). */
  gatewayToken?: string
  /** Gateway password. Default: the gateway's own (`gateway.auth.password` or $OPENCLAW_GATEWAY_PASSWORD). */
  gatewayPassword?: string
  /** Text resent into a parked session when its window resets. Default "Continue where you left off.". */
  resumeMessage: string
  /** Budget window for quota errors without a reset hint (`30s`, `5h`, `1d`, `7d`, `1mo`). Default none. */
  budgetWindow?: string
  /** Resend attempts before a session is abandoned. Default 5. */
  maxAttempts: number
  /** Most resends in flight. Default 4. */
  maxConcurrent: number
  /** Released sessions start at a random delay in [0, this] ms. Default 5000. */
  releaseSpreadMs: number
  /** How long a probe resend may take to finish successfully, in ms. Default 600000. */
  probeTimeoutMs: number
  /** Billing/auth/format failures in a row before a cron job is disabled. Default 1. */
  stopAfter: number
  /** Disable a cron job through the gateway when its failures cannot be fixed by waiting. Default true. */
  disableCronJobs: boolean
  /** Cancel repeated provider-error messages in a chat room (message_sending). Default true. */
  cancelRepeatedErrors: boolean
  /** Import `<stateDir>/ratelimit-retry/queue.json` of the old plugin once. Default true. */
  importOldQueue: boolean
  /** Where the queue lives. Default `<OpenClaw state dir>/retry-engine`. */
  stateDir?: string
  /** Several gateways on one provider account: share probe leases and group outcomes through this Redis (`redis://`, `rediss://`, `redis+unix://`). Default none. Never logged. */
  redisUrl?: string
  /** Prefix of the Redis keys (one per fleet). Default `openclaw-retry-engine:`. */
  redisKeyPrefix?: string
}

/** Defaults of every numeric and boolean setting. */
export const DEFAULTS = {
  resumeMessage: 'Continue where you left off.',
  maxAttempts: 5,
  maxConcurrent: 4,
  releaseSpreadMs: 0,
  probeTimeoutMs: 600_000,
  stopAfter: 1,
  disableCronJobs: true,
  cancelRepeatedErrors: true,
  importOldQueue: true,
} as const

const WINDOW = /^[1-9][0-9]*(?:s|m|h|d|w|mo)$/

/** Thrown for a wrong setting; the message says which field and what to write. */
export class PluginConfigError extends Error {
  readonly code = 'E_PLUGIN_CONFIG'
  constructor(field: string, expected: string, got: unknown) {
    const shown = typeof got === 'string' ? JSON.stringify(got) : Array.isArray(got) ? 'an array' : typeof got
    super(`retry-engine plugin config \`${field}\`: expected ${expected}, got ${shown}`)
  }
}

type Raw = Record<string, unknown>

function str(raw: Raw, field: string, check?: (s: string) => boolean, expected = 'a non-empty string'): string | undefined {
  const v = raw[field]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' || v.trim() === '' || (check && !check(v))) throw new PluginConfigError(field, expected, v)
  return v
}

/** A Redis URL; the error never repeats it (it may hold a password). */
function secretUrl(raw: Raw, field: string): string | undefined {
  const v = raw[field]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' || !/^(redis|rediss|redis\+unix|unix):\/\/\S+$/.test(v)) {
    throw new PluginConfigError(field, 'a redis://, rediss:// or redis+unix:// URL', typeof v === 'string' ? '(not shown: it may hold a password)' : v)
  }
  return v
}

function int(raw: Raw, field: string, min: number, max: number, fallback: number): number {
  const v = raw[field]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new PluginConfigError(field, `an integer from ${min} to ${max}`, v)
  }
  return v
}

function bool(raw: Raw, field: string, fallback: boolean): boolean {
  const v = raw[field]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'boolean') throw new PluginConfigError(field, 'true or false', v)
  return v
}

const KNOWN = [
  'gatewayUrl', 'gatewayToken', 'gatewayPassword', 'resumeMessage', 'budgetWindow', 'maxAttempts',
  'maxConcurrent', 'releaseSpreadMs', 'probeTimeoutMs', 'stopAfter', 'disableCronJobs',
  'cancelRepeatedErrors', 'importOldQueue', 'stateDir', 'redisUrl', 'redisKeyPrefix',
]

/** Validates `api.pluginConfig` (undefined means all defaults). Throws PluginConfigError. */
export function parseConfig(input: unknown): PluginConfig {
  if (input === undefined || input === null) input = {}
  if (typeof input !== 'object' || Array.isArray(input)) throw new PluginConfigError('(root)', 'an object', input)
  const raw = input as Raw
  for (const key of Object.keys(raw)) {
    if (!KNOWN.includes(key)) {
      throw new PluginConfigError(key, `no such setting (known: ${KNOWN.join(', ')})`, raw[key])
    }
  }
  return {
    gatewayUrl: str(raw, 'gatewayUrl', (s) => /^wss?:\/\/[^\s]+$/.test(s), 'a ws:// URL such as "ws://127.0.0.1:18789"'),
    gatewayToken: str(raw, 'gatewayToken'),
    gatewayPassword: str(raw, 'gatewayPassword'),
    resumeMessage: str(raw, 'resumeMessage') ?? DEFAULTS.resumeMessage,
    budgetWindow: str(raw, 'budgetWindow', (s) => WINDOW.test(s), 'a window such as "30s", "5h", "1d", "7d" or "1mo"'),
    maxAttempts: int(raw, 'maxAttempts', 1, 100, DEFAULTS.maxAttempts),
    maxConcurrent: int(raw, 'maxConcurrent', 1, 64, DEFAULTS.maxConcurrent),
    releaseSpreadMs: int(raw, 'releaseSpreadMs', 0, 3_600_000, DEFAULTS.releaseSpreadMs),
    probeTimeoutMs: int(raw, 'probeTimeoutMs', 1000, 86_400_000, DEFAULTS.probeTimeoutMs),
    stopAfter: int(raw, 'stopAfter', 1, 100, DEFAULTS.stopAfter),
    disableCronJobs: bool(raw, 'disableCronJobs', DEFAULTS.disableCronJobs),
    cancelRepeatedErrors: bool(raw, 'cancelRepeatedErrors', DEFAULTS.cancelRepeatedErrors),
    importOldQueue: bool(raw, 'importOldQueue', DEFAULTS.importOldQueue),
    stateDir: str(raw, 'stateDir', (s) => s.startsWith('/'), 'an absolute path'),
    redisUrl: secretUrl(raw, 'redisUrl'),
    redisKeyPrefix: str(raw, 'redisKeyPrefix'),
  }
}
