"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MAX_SEEN_RUNS = void 0;
exports.newCounters = newCounters;
exports.firstSight = firstSight;
/** Most run ids remembered for de-duplication. */
exports.MAX_SEEN_RUNS = 10_000;
/** Fresh counters. */
function newCounters() {
    return { parkedBySession: {}, resolved: 0, cancelledMessages: 0, disabledCronJobs: [], alerts: 0, errors: 0 };
}
/** Remembers `runId`; false when it was already seen. Bounded (oldest forgotten first). */
function firstSight(rt, runId) {
    if (!runId)
        return true;
    if (rt.seenRuns.has(runId))
        return false;
    rt.seenRuns.set(runId, Date.now());
    if (rt.seenRuns.size > exports.MAX_SEEN_RUNS) {
        const oldest = rt.seenRuns.keys().next().value;
        if (oldest !== undefined)
            rt.seenRuns.delete(oldest);
    }
    return true;
}
