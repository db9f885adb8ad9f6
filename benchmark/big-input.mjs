// 5. Classification of a 10 MB input: time per call.
import { fmtMs, ratio } from './lib/measure.mjs'
import { printTable } from './lib/table.mjs'

export function benchBigInput({ engine, old, bytes = 10 * 2 ** 20, calls = 5 }) {
  const tail = ' Rate limit reached for gpt-4o. Please try again in 1.5s.'
  const filler = 'The upstream proxy returned an unexpected page while relaying the request; '
  const text = filler.repeat(Math.ceil((bytes - tail.length) / filler.length)).slice(0, bytes - tail.length) + tail
  const http = { status: 429, headers: { 'content-type': 'text/plain' }, body: text }
  const json = { status: 429, body: { error: { message: text, type: 'requests', code: 'rate_limit_exceeded' } } }

  const time = (fn) => {
    fn() // warm-up, also checks the answer
    const t = performance.now()
    for (let i = 0; i < calls; i++) fn()
    return (performance.now() - t) / calls
  }
  const check = (c, what) => {
    if (c.reason !== 'rate_limit') throw new Error(`10 MB ${what}: expected rate_limit, got ${c.reason}`)
  }
  const oursStr = time(() => check(engine.classify(text), 'string'))
  const oursHttp = time(() => check(engine.classify(http), 'HTTP body'))
  const oursJson = time(() => check(engine.classify(json), 'JSON body'))
  const theirs = time(() => {
    if (!old.isRetriableError(text)) throw new Error('old plugin: 10 MB string not retriable')
  })
  const mb = (bytes / 2 ** 20).toFixed(0)
  printTable(
    `5. Classification of a ${mb} MB input (hint at the very end; mean of ${calls} calls after one warm-up)`,
    ['input', 'ours (engine.classify)', 'old plugin (isRetriableError, string)', 'ours vs old (>1: ours better)'],
    [
      [`${mb} MB string`, fmtMs(oursStr), fmtMs(theirs), ratio(theirs, oursStr)],
      [`{status: 429, body: ${mb} MB string}`, fmtMs(oursHttp), '', ''],
      [`{status: 429, body: {error: {message: ${mb} MB}}}`, fmtMs(oursJson), '', ''],
    ],
  )
  console.log('Ours reads the first and last 64 KiB of a long text (by design), so its cost is mostly copying the string into native memory; the old plugin runs its regexes over all of it.')
}
