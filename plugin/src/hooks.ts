// The hook handlers: agent_end parks failed sessions and resolves successful ones (and keeps
// cron jobs' failure streaks, disabling a job that waiting cannot fix); message_sending cancels
// repeated provider-error messages in a room and always lets normal replies through.
import { firstSight, type Runtime } from './runtime.js'

/** The `ctx` OpenClaw passes to agent hooks (only the fields used here). */
export interface AgentCtx {
  runId?: string
  jobId?: string
  sessionKey?: string
  modelProviderId?: string
  trigger?: string
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** An isolated cron run's session key: `agent:<agentId>:cron:<jobId>:run:<runSessionId>`. */
const CRON_SESSION = /^agent:[^:]+:cron:([^:]+)(?::|$)/

/**
 * The cron job of a cron-triggered run: `ctx.jobId` when the gateway sets it (2026.9.6 does not
 * on agent_end), else the job id inside an isolated run's session key.
 */
export function cronJobId(ctx: AgentCtx): string | undefined {
  if (ctx.jobId) return ctx.jobId
  return ctx.sessionKey?.match(CRON_SESSION)?.[1]
}

async function handleCron(rt: Runtime, event: any, ctx: AgentCtx): Promise<void> {
  const jobId = cronJobId(ctx)
  const name = jobId ?? ctx.sessionKey
  const decision = rt.engine.recordFailure(`cron:${name}`, event)
  if (decision.alert) {
    rt.counters.alerts += 1
    rt.logger.warn(
      `retry-engine alert: cron job ${name} failed with ${decision.reason} ` +
        `(${decision.consecutiveErrors} in a row)` +
        (decision.action === 'disable' ? '; it cannot be fixed by waiting' : ''),
    )
  }
  if (decision.action !== 'disable' || !rt.config.disableCronJobs || !jobId) return
  if (rt.counters.disabledCronJobs.includes(jobId)) return
  await rt.engine.gatewayRequest('cron.update', { id: jobId, patch: { enabled: false } })
  rt.counters.disabledCronJobs.push(jobId)
  rt.logger.warn(`retry-engine disabled cron job ${jobId} after ${decision.consecutiveErrors} ${decision.reason} failure(s)`)
}

/** agent_end: park on failure (once per run), resolve on success. Never throws into the gateway. */
export async function onAgentEnd(rt: Runtime | null, event: any, ctx: AgentCtx = {}): Promise<void> {
  const sessionKey = ctx?.sessionKey
  if (!rt || !sessionKey || !event) return
  try {
    const c = rt.engine.classify(event)
    const isCron = ctx.trigger === 'cron'
    if (c.reason === null) {
      // The run id is the evidence that confirms a probe: only our own resend's run does.
      const runId = event.runId ?? ctx.runId
      if (await rt.engine.resolve(sessionKey, runId ? { runId } : undefined)) rt.counters.resolved += 1
      if (isCron) rt.engine.recordSuccess(`cron:${cronJobId(ctx) ?? sessionKey}`)
      return
    }
    // The gateway retries some failures inside one run (same runId, one agent_end each, no
    // field telling the last one apart): only the first of them is a new failure of the
    // session. The entry carries the runId: until that run is final, compare-and-send sees it
    // in flight (`chat.history` `inFlightRun.runId`) and waits instead of resending, and the
    // run's own later success resolves the entry. Every attempt still parks: a park with the
    // entry's runId counts no attempt but brings the latest hint, so the run's final failure
    // (say a daily quota after a per-minute 429) decides when to resend, not the first one.
    const runId = event.runId ?? ctx.runId
    if (isCron && firstSight(rt, runId)) await handleCron(rt, event, ctx)
    await rt.engine.park(sessionKey, event, {
      ...(ctx.modelProviderId ? { provider: ctx.modelProviderId } : {}),
      ...(runId ? { runId } : {}),
      message: rt.config.resumeMessage,
    })
  } catch (err) {
    rt.counters.errors += 1
    rt.logger.warn(`retry-engine agent_end for ${sessionKey} failed: ${message(err)}`)
  }
}

/** The `ctx` of message hooks (only the fields used here). */
export interface MessageCtx {
  channelId?: string
  conversationId?: string
  sessionKey?: string
}

/** The room a message goes to: `<channel>:<recipient>`. */
export function roomKey(event: any, ctx: MessageCtx = {}): string | null {
  const to = event?.to ?? ctx?.conversationId ?? ctx?.sessionKey
  if (to === undefined || to === null || String(to) === '') return null
  const channel = event?.metadata?.channel ?? ctx?.channelId
  return channel ? `${channel}:${to}` : String(to)
}

/** message_sending: `{cancel: true}` for a repeated provider-error message, else nothing. */
export function onMessageSending(rt: Runtime | null, event: any, ctx: MessageCtx = {}) {
  if (!rt || !rt.config.cancelRepeatedErrors || typeof event?.content !== 'string') return undefined
  const room = roomKey(event, ctx)
  if (!room) return undefined
  try {
    const verdict = rt.engine.checkMessage(room, event.content)
    if (!verdict.cancel) return undefined
    rt.counters.cancelledMessages += 1
    rt.logger.info(`retry-engine cancelled a repeated provider-error message in ${room}`)
    return { cancel: true, cancelReason: 'retry-engine: repeated provider error message' }
  } catch (err) {
    rt.counters.errors += 1
    rt.logger.warn(`retry-engine message_sending for ${room} failed: ${message(err)}`)
    return undefined
  }
}
