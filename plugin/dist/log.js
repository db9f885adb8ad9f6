"use strict";
// Engine events as one log line each. Events never carry tokens (the engine guarantees it);
// the line carries the event's own fields only.
Object.defineProperty(exports, "__esModule", { value: true });
exports.formatEvent = formatEvent;
exports.logEvent = logEvent;
const WARN = new Set(['alert', 'abandoned', 'rejected', 'resend_failed', 'probe_failed', 'recovered_corrupt_file']);
/** One line for an engine event: `retry-engine parked {"sessionKey":…}`. */
function formatEvent(event) {
    const { type, ...rest } = event;
    return `retry-engine ${type} ${JSON.stringify(rest)}`;
}
/** Writes an engine event at warn level for trouble, info otherwise. */
function logEvent(logger, event) {
    const line = formatEvent(event);
    const terminal = event.type === 'gateway_disconnected' && event.terminal === true;
    if (WARN.has(event.type) || terminal)
        logger.warn(line);
    else
        logger.info(line);
}
