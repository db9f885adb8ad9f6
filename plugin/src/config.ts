// The plugin's own settings (`plugins.entries.retry-engine.config`). ONE table (FIELDS) is the
// source of truth: parseConfig() validates with it, and the manifest's JSON schema
// (openclaw.plugin.json `configSchema`, written by `npm run build:plugin`) is generated from it,
// so `openclaw config set` refuses exactly what the plugin (and the engine behind it) refuses.

/** Validated plugin settings. Every field has a default; see FIELDS. */
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
  /** Extra random delay in [0, this] ms for released sessions. Default 0. */
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

/** One setting: its type, its limits, its default and the words shown to users. */
export type Field =
  | { type: 'string'; pattern?: string; expected: string; default?: string; description: string; label: string; sensitive?: boolean; advanced?: boolean }
  | { type: 'integer'; minimum: number; maximum: number; default: number; description: string; label: string; advanced?: boolean }
  | { type: 'boolean'; default: boolean; description: string; label: string; advanced?: boolean }

/** The settings, in the order shown to users. `pattern` is an ECMAScript regex (JSON schema `pattern`). */
export const FIELDS = {
  gatewayUrl: {
    type: 'string',
    // The engine's gateway client speaks ws:// only (it refuses wss://).
    pattern: '^ws://\\S+$',
    expected: 'a ws:// URL such as "ws://127.0.0.1:18789" (wss:// is not supported)',
    label: 'Gateway URL',
    description: 'Gateway WebSocket URL (ws:// only) used for resends and cron.update. Default: ws://127.0.0.1:<this gateway\'s port>.',
    advanced: true,
  },
  gatewayToken: {
    type: 'string',
    pattern: '\\S',
    expected: 'a non-empty string',
    label: 'Gateway token',
    description: 'Gateway token. Default: the gateway\'s own (gateway.auth.token, else $OPENCLAW_GATEWAY_TOKEN). Never logged.',
    sensitive: true,
    advanced: true,
  },
  gatewayPassword: {
    type: 'string',
    pattern: '\\S',
    expected: 'a non-empty string',
    label: 'Gateway password',
    description: 'Gateway password. Default: the gateway\'s own (gateway.auth.password, else $OPENCLAW_GATEWAY_PASSWORD). Never logged.',
    sensitive: true,
    advanced: true,
  },
  resumeMessage: {
    type: 'string',
    pattern: '\\S',
    expected: 'a non-empty string',
    default: 'Continue where you left off.',
    label: 'Resume message',
    description: 'Text sent into a parked session when it is resumed.',
  },
  budgetWindow: {
    type: 'string',
    pattern: '^[1-9][0-9]{0,5}(s|m|h|d|w|mo)$',
    expected: 'a window such as "30s", "5h", "1d", "7d" or "1mo"',
    label: 'Budget window',
    description: 'Budget window for quota errors that carry no reset time (e.g. "5h", "1d", "7d", "1mo"); the session is resumed at the window\'s next reset. Default: none (backoff 30s, 1m, 5m, 15m, 60m).',
  },
  maxAttempts: {
    type: 'integer', minimum: 1, maximum: 100, default: 5,
    label: 'Max attempts',
    description: 'Resend attempts before a parked session is abandoned.',
  },
  maxConcurrent: {
    type: 'integer', minimum: 1, maximum: 64, default: 4,
    label: 'Max concurrent resends',
    description: 'Most resends in flight at once.',
  },
  releaseSpreadMs: {
    type: 'integer', minimum: 0, maximum: 3_600_000, default: 0,
    label: 'Release spread (ms)',
    description: 'After a successful probe, the other sessions are resent at once up to maxConcurrent, then at an adaptive rate, plus a random extra delay in [0, releaseSpreadMs].',
    advanced: true,
  },
  probeTimeoutMs: {
    type: 'integer', minimum: 1000, maximum: 86_400_000, default: 600_000,
    label: 'Probe timeout (ms)',
    description: 'How long a resent session may take to finish successfully before the resend counts as failed.',
    advanced: true,
  },
  stopAfter: {
    type: 'integer', minimum: 1, maximum: 100, default: 1,
    label: 'Stop cron jobs after',
    description: 'Billing, auth, format, context-overflow or model-not-found failures in a row before a cron job is disabled.',
  },
  disableCronJobs: {
    type: 'boolean', default: true,
    label: 'Disable hopeless cron jobs',
    description: 'Disable a cron job through the gateway (cron.update, needs operator.admin) when its failures cannot be fixed by waiting.',
  },
  cancelRepeatedErrors: {
    type: 'boolean', default: true,
    label: 'Cancel repeated error messages',
    description: 'Cancel repeated provider-error messages in a chat room (message_sending); normal replies always pass.',
  },
  importOldQueue: {
    type: 'boolean', default: true,
    label: 'Import the old plugin\'s queue',
    description: 'Import <state dir>/ratelimit-retry/queue.json of @cheapestinference/openclaw-ratelimit-retry once, at first start.',
    advanced: true,
  },
  stateDir: {
    type: 'string',
    pattern: '^/',
    expected: 'an absolute path',
    label: 'State directory',
    description: 'Absolute directory of the queue and counters. Default: <OpenClaw state dir>/retry-engine.',
    advanced: true,
  },
  redisUrl: {
    type: 'string',
    pattern: '^(redis|rediss|redis\\+unix|unix)://\\S+$',
    expected: 'a redis://, rediss:// or redis+unix:// URL',
    label: 'Redis URL (fleet)',
    description: 'Several gateways on one provider account: share probe leases and window outcomes through this Redis (redis://[user:password@]host:port/db, rediss:// for TLS, redis+unix:///path.sock), so the fleet sends one probe per window. Parked sessions stay in each gateway\'s state dir. Default: none. Never logged.',
    sensitive: true,
    advanced: true,
  },
  redisKeyPrefix: {
    type: 'string',
    pattern: '\\S',
    expected: 'a non-empty string',
    label: 'Redis key prefix',
    description: 'Prefix of the Redis keys and channel (one per fleet sharing a Redis). Default: openclaw-retry-engine:.',
    advanced: true,
  },
} as const satisfies Record<keyof PluginConfig, Field>

/** Setting names, in FIELDS order. */
export const KNOWN = Object.keys(FIELDS) as (keyof PluginConfig)[]

/** Defaults of every setting that has one (from FIELDS). */
export const DEFAULTS = Object.fromEntries(
  KNOWN.filter((k) => 'default' in FIELDS[k]).map((k) => [k, (FIELDS[k] as { default: unknown }).default]),
) as Pick<PluginConfig, 'resumeMessage' | 'maxAttempts' | 'maxConcurrent' | 'releaseSpreadMs' | 'probeTimeoutMs' | 'stopAfter' | 'disableCronJobs' | 'cancelRepeatedErrors' | 'importOldQueue'>

/** The JSON schema of the settings (the manifest's `configSchema`), generated from FIELDS. */
export function configSchema() {
  const properties: Record<string, Record<string, unknown>> = {}
  for (const key of KNOWN) {
    const f: Field = FIELDS[key]
    const p: Record<string, unknown> = { type: f.type }
    if (f.type === 'string') {
      if (f.pattern) p.pattern = f.pattern
    } else if (f.type === 'integer') {
      p.minimum = f.minimum
      p.maximum = f.maximum
    }
    if ('default' in f && f.default !== undefined) p.default = f.default
    p.description = f.description
    properties[key] = p
  }
  return { type: 'object', additionalProperties: false, properties }
}

/** The manifest's `uiHints` (labels, help, `sensitive` for the credentials), from FIELDS. */
export function uiHints() {
  const hints: Record<string, Record<string, unknown>> = {}
  for (const key of KNOWN) {
    const f: Field = FIELDS[key]
    hints[key] = {
      label: f.label,
      help: f.description,
      ...('sensitive' in f && f.sensitive ? { sensitive: true } : {}),
      ...(f.advanced ? { advanced: true } : {}),
    }
  }
  return hints
}

/** Thrown for a wrong setting; the message says which field and what to write. */
export class PluginConfigError extends Error {
  readonly code = 'E_PLUGIN_CONFIG'
  constructor(field: string, expected: string, got: unknown, secret = false) {
    const shown = secret && typeof got === 'string' ? '(not shown: it may hold a secret)' : typeof got === 'string' ? JSON.stringify(got) : Array.isArray(got) ? 'an array' : got === null ? 'null' : typeof got
    super(`retry-engine plugin config \`${field}\`: expected ${expected}, got ${shown}`)
  }
}

/** Checks one value against its field; returns the value or throws PluginConfigError. */
function check(key: string, f: Field, v: unknown): unknown {
  if (f.type === 'string') {
    if (typeof v !== 'string' || (f.pattern !== undefined && !new RegExp(f.pattern, 'u').test(v))) {
      throw new PluginConfigError(key, f.expected, v, 'sensitive' in f && f.sensitive === true)
    }
  } else if (f.type === 'integer') {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < f.minimum || v > f.maximum) {
      throw new PluginConfigError(key, `an integer from ${f.minimum} to ${f.maximum}`, v)
    }
  } else if (typeof v !== 'boolean') {
    throw new PluginConfigError(key, 'true or false', v)
  }
  return v
}

/** Validates `api.pluginConfig` (undefined means all defaults) against FIELDS. Throws PluginConfigError. */
export function parseConfig(input: unknown): PluginConfig {
  if (input === undefined || input === null) input = {}
  if (typeof input !== 'object' || Array.isArray(input)) throw new PluginConfigError('(root)', 'an object', input)
  const raw = input as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(raw)) {
    if (!(KNOWN as string[]).includes(key)) {
      throw new PluginConfigError(key, `no such setting (known: ${KNOWN.join(', ')})`, raw[key])
    }
  }
  for (const key of KNOWN) {
    const f: Field = FIELDS[key]
    const v = raw[key]
    if (v === undefined) {
      if ('default' in f && f.default !== undefined) out[key] = f.default
      continue
    }
    out[key] = check(key, f, v)
  }
  return out as unknown as PluginConfig
}
