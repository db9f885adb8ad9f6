// What the running service shares with the hooks: the engine, the settings, the logger, and
// counters for `retryEngine.status`. One per plugin instance, shared by both registrations
// (the gateway calls register() twice: "full" then "discovery").
import type { PluginConfig } from './config.js'
import type { Logger } from './log.js'

/** Counters the plugin keeps besides the engine's own stats. */
export interface Counters {
  /** `parked` events per session key (a repeat of the same session counts again). */
  parkedBySession: Record<string, number>
  /** Sessions resolved by a successful agent_end while parked. */
  resolved: number
  /** message_sending calls the plugin cancelled. */
  cancelledMessages: number
  /** Cron job ids the plugin disabled through the gateway. */
  disabledCronJobs: string[]
  /** Alerts raised (once per key and window). */
  alerts: number
  /** Hook or gateway errors the plugin caught and logged. */
  errors: number
}

/** The live state of one started service. */
export interface Runtime {
  engine: any
  config: PluginConfig
  logger: Logger
  counters: Counters
  /** Run ids already handled for parking (a gateway retry of the same run is not a new failure). */
  seenRuns: Map<string, number>
  /** Lifetime-counter writes still in flight (awaited before the engine closes). */
  writes?: Set<Promise<unknown>>
}

/** Most run ids remembered for de-duplication. */
export const MAX_SEEN_RUNS = 10_000

/** Fresh counters. */
export function newCounters(): Counters {
  return { parkedBySession: {}, resolved: 0, cancelledMessages: 0, disabledCronJobs: [], alerts: 0, errors: 0 }
}

/** Remembers `runId`; false when it was already seen. Bounded (oldest forgotten first). */
export function firstSight(rt: Runtime, runId: string | undefined): boolean {
  if (!runId) return true
  if (rt.seenRuns.has(runId)) return false
  rt.seenRuns.set(runId, Date.now())
  if (rt.seenRuns.size > MAX_SEEN_RUNS) {
    const oldest = rt.seenRuns.keys().next().value
    if (oldest !== undefined) rt.seenRuns.delete(oldest)
  }
  return true
}
