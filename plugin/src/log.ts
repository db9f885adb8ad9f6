// Engine events as one log line each. Events never carry tokens (the engine guarantees it);
// the line carries the event's own fields only.

/** The logger OpenClaw passes to plugins and services. */
export interface Logger {
  debug?: (message: string) => void
  info: (message: string) => void
  warn: (message: string) => void
  error: (message: string) => void
}

const WARN = new Set(['alert', 'abandoned', 'rejected', 'resend_failed', 'probe_failed', 'recovered_corrupt_file'])

/** One line for an engine event: `retry-engine parked {"sessionKey":…}`. */
export function formatEvent(event: { type: string; [k: string]: unknown }): string {
  const { type, ...rest } = event
  return `retry-engine ${type} ${JSON.stringify(rest)}`
}

/** Writes an engine event at warn level for trouble, info otherwise. */
export function logEvent(logger: Logger, event: { type: string; [k: string]: unknown }): void {
  const line = formatEvent(event)
  const terminal = event.type === 'gateway_disconnected' && event.terminal === true
  if (WARN.has(event.type) || terminal) logger.warn(line)
  else logger.info(line)
}
