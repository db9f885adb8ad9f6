// The operator surface behind the gateway methods (`retryEngine.list|retry|drop|status|metrics`)
// and the `openclaw retry-engine …` CLI: plain functions of the running service.
import type { Runtime } from './runtime.js'

/** Gateway method names, with the operator scope each needs. */
export const METHODS = {
  status: { name: 'retryEngine.status', scope: 'operator.read' },
  list: { name: 'retryEngine.list', scope: 'operator.read' },
  metrics: { name: 'retryEngine.metrics', scope: 'operator.read' },
  retry: { name: 'retryEngine.retry', scope: 'operator.write' },
  drop: { name: 'retryEngine.drop', scope: 'operator.write' },
} as const

/** Engine events counted in the lifetime counters (`<stateDir>/counters.json`, survive restarts). */
export const COUNTED_EVENTS = new Set(['parked', 'resent', 'resolved', 'abandoned', 'rejected', 'probe_ok', 'probe_failed', 'alert'])

/** An error answered to a gateway method call: `{code, message}`. */
export class OperatorError extends Error {
  constructor(readonly code: 'INVALID_REQUEST' | 'UNAVAILABLE', message: string) {
    super(message)
  }
}

/** The service's state when it is not running: why (a failed start), else "not started". */
export interface StartFailure {
  code: string
  message: string
  atMs: number
}

function need(rt: Runtime | null, failure: StartFailure | null): Runtime {
  if (rt) return rt
  const why = failure ? `its start failed: ${failure.message}` : 'it is not running (yet)'
  throw new OperatorError('UNAVAILABLE', `retry-engine: ${why}`)
}

const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined)

/** Why an entry is parked, in one sentence. */
export function whyParked(e: { reason: string; status: string; attempts: number; retryAtMs: number; group: string }, nowMs = Date.now()): string {
  const when = new Date(e.retryAtMs).toISOString()
  const waiting =
    e.status === 'parked'
      ? e.retryAtMs <= nowMs
        ? `due now (group ${e.group} sends one probe first)`
        : `waits until ${when} (${e.reason === 'quota' ? 'the quota window resets' : 'backoff'}; group ${e.group} sends one probe first)`
      : e.status === 'probing'
        ? `is the probe of group ${e.group}: resent, waiting for its run to succeed`
        : e.status === 'released'
          ? `released after a successful probe of group ${e.group}: resend queued`
          : 'resent, waiting for its run to succeed'
  return `${e.reason} after ${e.attempts} attempt(s); ${waiting}`
}

/** The fields of a parked entry an operator sees. */
function entryView(e: any) {
  return {
    sessionKey: e.sessionKey,
    reason: e.reason,
    status: e.status,
    attempts: e.attempts,
    retryAtMs: e.retryAtMs,
    group: e.group,
    lastError: e.lastError,
  }
}

/** `retryEngine.list`: every parked session with reason, attempts, due time, last error, group, why. */
export async function list(rt: Runtime | null, failure: StartFailure | null = null) {
  const r = need(rt, failure)
  const now = Date.now()
  const pending = await r.engine.pending()
  return {
    sessions: pending.map((e: any) => ({ ...entryView(e), why: whyParked(e, now) })),
  }
}

/** `retryEngine.retry {sessionKey} | {group}`: resend now through the scheduler (probe first). */
export async function retry(rt: Runtime | null, params: any, failure: StartFailure | null = null) {
  const r = need(rt, failure)
  const sessionKey = text(params?.sessionKey)
  const group = text(params?.group)
  if (!sessionKey === !group) throw new OperatorError('INVALID_REQUEST', 'retryEngine.retry: give exactly one of sessionKey or group')
  const out = await r.engine.retryNow(sessionKey ? { sessionKey } : { group })
  if (out.due.length) await r.engine.addCounter('retried', out.due.length)
  r.logger.info(`retry-engine retry now (${sessionKey ? `session ${sessionKey}` : `group ${group}`}): due ${JSON.stringify(out.due)}, in flight ${JSON.stringify(out.inFlight)}`)
  return out
}

/** `retryEngine.drop {sessionKey, reason?}`: remove a parked session without resending; logs the reason. */
export async function drop(rt: Runtime | null, params: any, failure: StartFailure | null = null) {
  const r = need(rt, failure)
  const sessionKey = text(params?.sessionKey)
  if (!sessionKey) throw new OperatorError('INVALID_REQUEST', 'retryEngine.drop: sessionKey is required')
  if (params?.reason !== undefined && typeof params.reason !== 'string') {
    throw new OperatorError('INVALID_REQUEST', 'retryEngine.drop: reason must be a string')
  }
  const reason = (text(params?.reason) ?? 'dropped by an operator').slice(0, 500)
  const removed = await r.engine.unpark(sessionKey)
  if (removed) {
    await r.engine.addCounter('dropped')
    r.logger.warn(`retry-engine dropped ${sessionKey} (${removed.reason}, ${removed.attempts} attempt(s)); reason: ${JSON.stringify(reason)}`)
  }
  return { dropped: !!removed, sessionKey, reason, ...(removed ? { entry: removed } : {}) }
}

/** The settings in effect, credentials shown only as `"(set)"`. */
export function visibleSettings(cfg: Record<string, unknown>) {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(cfg)) {
    if (v === undefined) continue
    out[k] = k === 'gatewayToken' || k === 'gatewayPassword' ? '(set)' : v
  }
  return out
}

/**
 * `retryEngine.status`: running or why not, engine stats, parked sessions, counters, the
 * settings in effect, and the last failed start (`error`; also while an older engine still runs).
 */
export async function status(rt: Runtime | null, failure: StartFailure | null = null) {
  if (!rt) return { running: false, ...(failure ? { error: failure } : {}) }
  const [stats, pending, lifetime] = await Promise.all([rt.engine.stats(), rt.engine.pending(), rt.engine.counters()])
  return {
    running: true,
    stats,
    pending: pending.map(entryView),
    /** Counters since this start. */
    counters: rt.counters,
    /** Lifetime counters (`<stateDir>/counters.json`: engine events, retried, dropped; survive restarts). */
    lifetime,
    settings: visibleSettings(rt.config as unknown as Record<string, unknown>),
    ...(failure ? { error: failure } : {}),
  }
}

/** `retryEngine.metrics`: the engine's metrics() when this build has it, plus the counters. */
export async function metrics(rt: Runtime | null, failure: StartFailure | null = null) {
  const r = need(rt, failure)
  const engineMetrics = typeof r.engine.metrics === 'function' ? await r.engine.metrics() : undefined
  return { lifetime: await r.engine.counters(), ...(engineMetrics !== undefined ? { engine: engineMetrics } : {}) }
}
