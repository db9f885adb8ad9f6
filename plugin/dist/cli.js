"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.render = void 0;
exports.table = table;
exports.registerCommands = registerCommands;
// `openclaw retry-engine status|list|retry|drop`: the plugin's CLI (api.registerCli). Every
// command calls the plugin's gateway method on the running gateway (the CLI's own gateway
// connection: --url/--token/--timeout as for `openclaw gateway call`), prints a table, or the
// method's JSON payload with --json.
const operator_js_1 = require("./operator.js");
const manifest_js_1 = require("./manifest.js");
/** A plain text table: a header row, then one row per item; columns padded to their widest cell. */
function table(headers, rows) {
    const cells = [headers, ...rows].map((r) => r.map((c) => c.replace(/\s+/g, ' ')));
    const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
    return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}
const iso = (ms) => (typeof ms === 'number' ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-');
const cut = (s, n) => {
    const t = String(s ?? '');
    return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};
/** Human rendering of each command's payload. */
exports.render = {
    list(payload) {
        const rows = (payload.sessions ?? []);
        if (!rows.length)
            return 'No parked sessions.';
        return table(['SESSION', 'REASON', 'STATUS', 'ATTEMPTS', 'DUE', 'GROUP', 'LAST ERROR', 'WHY'], rows.map((e) => [e.sessionKey, e.reason, e.status, String(e.attempts), iso(e.retryAtMs), e.group, cut(e.lastError, 60), e.why ?? (0, operator_js_1.whyParked)(e)]));
    },
    status(payload) {
        if (!payload.running) {
            return `retry-engine: NOT RUNNING${payload.error ? ` — start failed: ${payload.error.message} (${payload.error.code})` : ''}`;
        }
        const s = payload.stats ?? {};
        const lines = [
            `retry-engine: running (state ${s.stateDir ?? '?'})`,
            `parked: ${s.parked ?? payload.pending?.length ?? 0}, next due: ${iso(s.nextDueAtMs)}`,
        ];
        if (payload.error)
            lines.push(`last start FAILED (the engine above keeps running): ${payload.error.message} (${payload.error.code})`);
        const counters = Object.entries(payload.lifetime ?? {});
        if (counters.length)
            lines.push('', table(['COUNTER (lifetime)', 'VALUE'], counters.map(([k, v]) => [k, String(v)])));
        return lines.join('\n');
    },
    retry(payload) {
        const due = payload.due ?? [];
        const busy = payload.inFlight ?? [];
        if (!due.length && !busy.length)
            return 'Nothing parked matches.';
        return [
            due.length ? `Resending now (one probe per group first): ${due.join(', ')}` : '',
            busy.length ? `Already being resent: ${busy.join(', ')}` : '',
        ].filter(Boolean).join('\n');
    },
    drop(payload) {
        return payload.dropped ? `Dropped ${payload.sessionKey} (reason: ${payload.reason}).` : `${payload.sessionKey} is not parked.`;
    },
};
/** Registers `retry-engine` and its subcommands on the root `openclaw` program. */
function registerCommands(program, call, addOptions, out) {
    const root = program.command(manifest_js_1.CLI_COMMAND).description(manifest_js_1.CLI_DESCRIPTION);
    const run = (method, kind, params) => async (...args) => {
        const cmd = args[args.length - 1];
        const opts = typeof cmd?.opts === 'function' ? cmd.opts() : (args[args.length - 2] ?? {});
        try {
            const payload = await call(method.name, opts, params(args, opts), [method.scope]);
            out.log(opts.json ? JSON.stringify(payload, null, 2) : exports.render[kind](payload));
        }
        catch (err) {
            out.error(`retry-engine ${kind}: ${err instanceof Error ? err.message : String(err)}`);
            out.fail();
        }
    };
    const sub = (name, description) => addOptions(root.command(name).description(description).option('--json', 'print the JSON payload'));
    sub('status', 'Whether the engine runs, parked count, lifetime counters').action(run(operator_js_1.METHODS.status, 'status', () => ({})));
    sub('list', 'Parked sessions: reason, attempts, due time, last error, group, why').action(run(operator_js_1.METHODS.list, 'list', () => ({})));
    sub('retry', 'Resend a parked session (or a whole --group) now; one probe per group first')
        .argument('[sessionKey]', 'the parked session')
        .option('--group <group>', 'every parked session of this provider/budget group')
        .action(run(operator_js_1.METHODS.retry, 'retry', ([key], opts) => (opts.group ? { group: opts.group } : { sessionKey: key })));
    sub('drop', 'Remove a parked session without resending it (the reason is logged)')
        .argument('<sessionKey>', 'the parked session')
        .option('--reason <text>', 'why (written to the gateway log)')
        .action(run(operator_js_1.METHODS.drop, 'drop', ([key], opts) => ({ sessionKey: key, ...(opts.reason ? { reason: opts.reason } : {}) })));
    return root;
}
