"use strict";
// The plugin's own settings (`plugins.entries.retry-engine.config`). ONE table (FIELDS) is the
// source of truth: parseConfig() validates with it, and the manifest's JSON schema
// (openclaw.plugin.json `configSchema`, written by `npm run build:plugin`) is generated from it,
// so `openclaw config set` refuses exactly what the plugin (and the engine behind it) refuses.
Object.defineProperty(exports, "__esModule", { value: true });
exports.PluginConfigError = exports.DEFAULTS = exports.KNOWN = exports.FIELDS = void 0;
exports.configSchema = configSchema;
exports.uiHints = uiHints;
exports.parseConfig = parseConfig;
/** The settings, in the order shown to users. `pattern` is an ECMAScript regex (JSON schema `pattern`). */
exports.FIELDS = {
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
};
/** Setting names, in FIELDS order. */
exports.KNOWN = Object.keys(exports.FIELDS);
/** Defaults of every setting that has one (from FIELDS). */
exports.DEFAULTS = Object.fromEntries(exports.KNOWN.filter((k) => 'default' in exports.FIELDS[k]).map((k) => [k, exports.FIELDS[k].default]));
/** The JSON schema of the settings (the manifest's `configSchema`), generated from FIELDS. */
function configSchema() {
    const properties = {};
    for (const key of exports.KNOWN) {
        const f = exports.FIELDS[key];
        const p = { type: f.type };
        if (f.type === 'string') {
            if (f.pattern)
                p.pattern = f.pattern;
        }
        else if (f.type === 'integer') {
            p.minimum = f.minimum;
            p.maximum = f.maximum;
        }
        if ('default' in f && f.default !== undefined)
            p.default = f.default;
        p.description = f.description;
        properties[key] = p;
    }
    return { type: 'object', additionalProperties: false, properties };
}
/** The manifest's `uiHints` (labels, help, `sensitive` for the credentials), from FIELDS. */
function uiHints() {
    const hints = {};
    for (const key of exports.KNOWN) {
        const f = exports.FIELDS[key];
        hints[key] = {
            label: f.label,
            help: f.description,
            ...('sensitive' in f && f.sensitive ? { sensitive: true } : {}),
            ...(f.advanced ? { advanced: true } : {}),
        };
    }
    return hints;
}
/** Thrown for a wrong setting; the message says which field and what to write. */
class PluginConfigError extends Error {
    code = 'E_PLUGIN_CONFIG';
    constructor(field, expected, got, secret = false) {
        const shown = secret && typeof got === 'string' ? '(not shown: it may hold a secret)' : typeof got === 'string' ? JSON.stringify(got) : Array.isArray(got) ? 'an array' : got === null ? 'null' : typeof got;
        super(`retry-engine plugin config \`${field}\`: expected ${expected}, got ${shown}`);
    }
}
exports.PluginConfigError = PluginConfigError;
/** Checks one value against its field; returns the value or throws PluginConfigError. */
function check(key, f, v) {
    if (f.type === 'string') {
        if (typeof v !== 'string' || (f.pattern !== undefined && !new RegExp(f.pattern, 'u').test(v))) {
            throw new PluginConfigError(key, f.expected, v, 'sensitive' in f && f.sensitive === true);
        }
    }
    else if (f.type === 'integer') {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < f.minimum || v > f.maximum) {
            throw new PluginConfigError(key, `an integer from ${f.minimum} to ${f.maximum}`, v);
        }
    }
    else if (typeof v !== 'boolean') {
        throw new PluginConfigError(key, 'true or false', v);
    }
    return v;
}
/** Validates `api.pluginConfig` (undefined means all defaults) against FIELDS. Throws PluginConfigError. */
function parseConfig(input) {
    if (input === undefined || input === null)
        input = {};
    if (typeof input !== 'object' || Array.isArray(input))
        throw new PluginConfigError('(root)', 'an object', input);
    const raw = input;
    const out = {};
    for (const key of Object.keys(raw)) {
        if (!exports.KNOWN.includes(key)) {
            throw new PluginConfigError(key, `no such setting (known: ${exports.KNOWN.join(', ')})`, raw[key]);
        }
    }
    for (const key of exports.KNOWN) {
        const f = exports.FIELDS[key];
        const v = raw[key];
        if (v === undefined) {
            if ('default' in f && f.default !== undefined)
                out[key] = f.default;
            continue;
        }
        out[key] = check(key, f, v);
    }
    return out;
}
