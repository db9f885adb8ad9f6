// 1. Classification throughput and correctness on the error corpus: ours vs the old plugin.
import { readFileSync } from 'node:fs'
import { corpusPath } from './lib/engine.mjs'
import { fmtCount, fmtRate, ratio, timeSync } from './lib/measure.mjs'
import { printTable } from './lib/table.mjs'

// Reason::is_retryable (src/reason.rs): waiting and sending again can succeed.
const RETRYABLE = new Set(['rate_limit', 'quota', 'overloaded', 'server_error', 'timeout', 'network', 'unknown'])
export const isRetryableReason = (reason) => reason != null && RETRYABLE.has(reason)

/**
 * What the old plugin would be given for a corpus input: it only reads `event.error`, a string.
 * A plain string stays itself; an HTTP response becomes `"<status> <body>"` (body JSON-encoded
 * when it is an object; headers are never seen by it); chat text is the text itself.
 */
export function stringForm(input) {
  if (typeof input === 'string') return input
  if (input?.kind === 'chat_text') return input.text
  if (input?.kind === 'agent_end') return typeof input.event?.error === 'string' ? input.event.error : undefined
  const body = typeof input?.body === 'string' ? input.body : JSON.stringify(input?.body ?? '')
  return input?.status != null ? `${input.status} ${body}` : body
}

export function loadCorpus() {
  const path = corpusPath()
  const cases = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
  return { path, cases }
}

export function benchClassify({ engine, old, ms }) {
  const { path, cases } = loadCorpus()
  const inputs = cases.map((c) => c.input)
  const strings = inputs.map(stringForm)
  const n = cases.length

  let oursReason = 0
  let oursHint = 0
  let oursRetryable = 0
  let theirsRetryable = 0
  const oursMisses = []
  const theirsMisses = []
  for (const c of cases) {
    const got = engine.classify(c.input)
    const wantRetryable = isRetryableReason(c.reason)
    if (got.reason === c.reason) oursReason++
    else oursMisses.push(c.id)
    const hintOk =
      got.reason === c.reason &&
      (c.retryAfterMs == null || got.retryAfterMs === c.retryAfterMs) &&
      (c.resetAtMs == null || got.resetAtMs === c.resetAtMs)
    if (hintOk) oursHint++
    if ((got.reason != null && got.retryable) === wantRetryable) oursRetryable++
    if (old.isRetriableError(stringForm(c.input)) === wantRetryable) theirsRetryable++
    else theirsMisses.push(c.id)
  }

  const ours = timeSync((i) => engine.classify(inputs[i % n]), { ms })
  const theirs = timeSync((i) => old.isRetriableError(strings[i % n]), { ms })
  const oursStr = timeSync((i) => engine.classify(strings[i % n] ?? ''), { ms })

  const pct = (k) => `${k}/${n} (${Math.round((100 * k) / n)}%)`
  printTable(
    `1. Classification of the error corpus (${n} lines, ${path.replace(/.*\/__test__\//, '__test__/')})`,
    ['measure', 'ours (engine.classify)', 'old plugin (isRetriableError)', 'ours vs old (>1: ours better)'],
    [
      ['throughput, corpus inputs as given (objects for HTTP cases)', fmtRate(ours.rate), fmtRate(theirs.rate) + ' (string form)', ratio(ours.rate, theirs.rate)],
      ['throughput, everyone on the string form', fmtRate(oursStr.rate), fmtRate(theirs.rate), ratio(oursStr.rate, theirs.rate)],
      ['mean time per call (inputs as given)', `${((1e9 / ours.rate) | 0).toLocaleString('en-US')} ns`, `${((1e9 / theirs.rate) | 0).toLocaleString('en-US')} ns`, ''],
      ['lines right: exact reason', pct(oursReason), 'n/a (yes/no only)', ''],
      ['lines right: exact reason + provider hint', pct(oursHint), 'n/a (no hints)', ''],
      ['lines right: retryable yes/no', pct(oursRetryable), pct(theirsRetryable), `${oursRetryable - theirsRetryable >= 0 ? '+' : ''}${oursRetryable - theirsRetryable} lines`],
    ],
  )
  if (oursMisses.length) console.log(`ours, reason wrong on: ${oursMisses.join(', ')}`)
  if (theirsMisses.length) console.log(`old plugin, retryable wrong on: ${theirsMisses.join(', ')}`)
  console.log(`(timed ${fmtCount(ours.ops)} / ${fmtCount(theirs.ops)} calls over ~${ms} ms each)`)
}
