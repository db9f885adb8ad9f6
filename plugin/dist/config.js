// The plugin's own settings (`plugins.entries.retry-engine.config`): validated once, with a
// message naming the field and what to write instead, and safe defaults for everything.
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
};
const WINDOW = /^[1-9][0-9]*(?:s|m|h|d|w|mo)$/;
/** Thrown for a wrong setting; the message says which field and what to write. */
export class PluginConfigError extends Error {
    code = 'E_PLUGIN_CONFIG';
    constructor(field, expected, got) {
        const shown = typeof got === 'string' ? JSON.stringify(got) : Array.isArray(got) ? 'an array' : typeof got;
        super(`retry-engine plugin config \`${field}\`: expected ${expected}, got ${shown}`);
    }
}
function str(raw, field, check, expected = 'a non-empty string') {
    const v = raw[field];
    if (v === undefined || v === null)
        return undefined;
    if (typeof v !== 'string' || v.trim() === '' || (check && !check(v)))
        throw new PluginConfigError(field, expected, v);
    return v;
}
/** A Redis URL; the error never repeats it (it may hold a password). */
function secretUrl(raw, field) {
    const v = raw[field];
    if (v === undefined || v === null)
        return undefined;
    if (typeof v !== 'string' || !/^(redis|rediss|redis\+unix|unix):\/\/\S+$/.test(v)) {
        throw new PluginConfigError(field, 'a redis://, rediss:// or redis+unix:// URL', typeof v === 'string' ? '(not shown: it may hold a password)' : v);
    }
    return v;
}
function int(raw, field, min, max, fallback) {
    const v = raw[field];
    if (v === undefined || v === null)
        return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new PluginConfigError(field, `an integer from ${min} to ${max}`, v);
    }
    return v;
}
function bool(raw, field, fallback) {
    const v = raw[field];
    if (v === undefined || v === null)
        return fallback;
    if (typeof v !== 'boolean')
        throw new PluginConfigError(field, 'true or false', v);
    return v;
}
const KNOWN = [
    'gatewayUrl', 'gatewayToken', 'gatewayPassword', 'resumeMessage', 'budgetWindow', 'maxAttempts',
    'maxConcurrent', 'releaseSpreadMs', 'probeTimeoutMs', 'stopAfter', 'disableCronJobs',
    'cancelRepeatedErrors', 'importOldQueue', 'stateDir', 'redisUrl', 'redisKeyPrefix',
];
/** Validates `api.pluginConfig` (undefined means all defaults). Throws PluginConfigError. */
export function parseConfig(input) {
    if (input === undefined || input === null)
        input = {};
    if (typeof input !== 'object' || Array.isArray(input))
        throw new PluginConfigError('(root)', 'an object', input);
    const raw = input;
    for (const key of Object.keys(raw)) {
        if (!KNOWN.includes(key)) {
            throw new PluginConfigError(key, `no such setting (known: ${KNOWN.join(', ')})`, raw[key]);
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
    };
}
