// `openclaw retry-engine status|list|retry|drop`: the plugin's CLI (api.registerCli). Every
// command calls the plugin's gateway method on the running gateway (the CLI's own gateway
// connection: --url/--token/--timeout as for `openclaw gateway call`), prints a table, or the
// method's JSON payload with --json.
import { METHODS, whyParked } from './operator.js'
import { CLI_COMMAND, CLI_DESCRIPTION } from './manifest.js'

/** Calls a gateway method with the CLI's connection options (`callGatewayFromCli` of the SDK). */
export type GatewayCall = (method: string, opts: Record<string, unknown>, params: unknown, scopes: string[]) => Promise<any>
/** Adds the SDK's standard --url/--token/--password/--timeout options to a command. */
export type AddGatewayOptions = (cmd: any) => any

/** Where the CLI writes (stdout/stderr, replaceable in tests). */
export interface Out {
  log: (line: string) => void
  error: (line: string) => void
  fail: () => void
}

/** A plain text table: a header row, then one row per item; columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const cells = [headers, ...rows].map((r) => r.map((c) => c.replace(/\s+/g, ' ')))
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n')
}

const iso = (ms: number | null | undefined) => (typeof ms === 'number' ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-')
const cut = (s: unknown, n: number) => {
  const t = String(s ?? '')
  return t.length > n ? `${t.slice(0, n - 1)}…` : t
}

/** Human rendering of each command's payload. */
export const render = {
  list(payload: any): string {
    const rows = (payload.sessions ?? []) as any[]
    if (!rows.length) return 'No parked sessions.'
    return table(
      ['SESSION', 'REASON', 'STATUS', 'ATTEMPTS', 'DUE', 'GROUP', 'LAST ERROR', 'WHY'],
      rows.map((e) => [e.sessionKey, e.reason, e.status, String(e.attempts), iso(e.retryAtMs), e.group, cut(e.lastError, 60), e.why ?? whyParked(e)]),
    )
  },
  status(payload: any): string {
    if (!payload.running) {
      return `retry-engine: NOT RUNNING${payload.error ? ` — start failed: ${payload.error.message} (${payload.error.code})` : ''}`
    }
    const s = payload.stats ?? {}
    const lines = [
      `retry-engine: running (state ${s.stateDir ?? '?'})`,
      `parked: ${s.parked ?? payload.pending?.length ?? 0}, next due: ${iso(s.nextDueAtMs)}`,
    ]
    if (payload.error) lines.push(`last start FAILED (the engine above keeps running): ${payload.error.message} (${payload.error.code})`)
    const counters = Object.entries(payload.lifetime ?? {}) as [string, number][]
    if (counters.length) lines.push('', table(['COUNTER (lifetime)', 'VALUE'], counters.map(([k, v]) => [k, String(v)])))
    return lines.join('\n')
  },
  retry(payload: any): string {
    const due = payload.due ?? []
    const busy = payload.inFlight ?? []
    if (!due.length && !busy.length) return 'Nothing parked matches.'
    return [
      due.length ? `Resending now (one probe per group first): ${due.join(', ')}` : '',
      busy.length ? `Already being resent: ${busy.join(', ')}` : '',
    ].filter(Boolean).join('\n')
  },
  drop(payload: any): string {
    return payload.dropped ? `Dropped ${payload.sessionKey} (reason: ${payload.reason}).` : `${payload.sessionKey} is not parked.`
  },
}

/** Registers `retry-engine` and its subcommands on the root `openclaw` program. */
export function registerCommands(program: any, call: GatewayCall, addOptions: AddGatewayOptions, out: Out) {
  const root = program.command(CLI_COMMAND).description(CLI_DESCRIPTION)
  const run = (method: { name: string; scope: string }, kind: keyof typeof render, params: (args: any[], opts: any) => unknown) =>
    async (...args: any[]) => {
      const cmd = args[args.length - 1]
      const opts = typeof cmd?.opts === 'function' ? cmd.opts() : (args[args.length - 2] ?? {})
      try {
        const payload = await call(method.name, opts, params(args, opts), [method.scope])
        out.log(opts.json ? JSON.stringify(payload, null, 2) : render[kind](payload))
      } catch (err) {
        out.error(`retry-engine ${kind}: ${err instanceof Error ? err.message : String(err)}`)
        out.fail()
      }
    }
  const sub = (name: string, description: string) => addOptions(root.command(name).description(description).option('--json', 'print the JSON payload'))
  sub('status', 'Whether the engine runs, parked count, lifetime counters').action(run(METHODS.status, 'status', () => ({})))
  sub('list', 'Parked sessions: reason, attempts, due time, last error, group, why').action(run(METHODS.list, 'list', () => ({})))
  sub('retry', 'Resend a parked session (or a whole --group) now; one probe per group first')
    .argument('[sessionKey]', 'the parked session')
    .option('--group <group>', 'every parked session of this provider/budget group')
    .action(run(METHODS.retry, 'retry', ([key], opts) => (opts.group ? { group: opts.group } : { sessionKey: key })))
  sub('drop', 'Remove a parked session without resending it (the reason is logged)')
    .argument('<sessionKey>', 'the parked session')
    .option('--reason <text>', 'why (written to the gateway log)')
    .action(run(METHODS.drop, 'drop', ([key], opts) => ({ sessionKey: key, ...(opts.reason ? { reason: opts.reason } : {}) })))
  return root
}
