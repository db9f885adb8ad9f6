// engine.metrics(): OpenMetrics text with Prometheus naming (retry_engine_ prefix, _total
// counters, _seconds histogram), fed by what the engine really did.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RetryEngine, tmpDirs } from './helpers/engines.mjs'

const tmpDir = tmpDirs('metrics')

/** Parse the exposition into { families: {name: type}, samples: {"name{labels}": value} }. */
function parse (text) {
  const families = {}
  const samples = {}
  const lines = text.trimEnd().split('\n')
  assert.equal(lines.at(-1), '# EOF')
  for (const line of lines.slice(0, -1)) {
    let m
    if ((m = /^# TYPE (retry_engine_[a-z_]+) (counter|gauge|histogram)$/.exec(line))) families[m[1]] = m[2]
    else if (/^# (HELP|UNIT) retry_engine_[a-z_]+ .+$/.test(line)) continue
    else if ((m = /^(retry_engine_[a-z_]+)(\{[a-z_]+="[^"\\\n]*"(,[a-z_]+="[^"\\\n]*")*\})? (-?[0-9.e+]+|\+Inf)$/.exec(line))) {
      samples[m[1] + (m[2] || '')] = Number(m[4])
      const family = Object.keys(families).find((f) => m[1] === f || m[1].startsWith(`${f}_`))
      assert.ok(family, `sample before its # TYPE: ${line}`)
      if (families[family] === 'counter') assert.ok(m[1].endsWith('_total'), line)
    } else assert.fail(`not OpenMetrics text: ${JSON.stringify(line)}`)
  }
  return { families, samples }
}

test('metrics() counts parks, resends, probes, alerts and breaker transitions, gauges parked entries', async () => {
  let resolveResend
  const resent = new Promise((resolve) => { resolveResend = resolve })
  const engine = new RetryEngine({
    stateDir: tmpDir(),
    breaker: { failureThreshold: 1 },
    resend: async (req) => resolveResend(req.sessionKey),
  })
  const before = parse(await engine.metrics())
  assert.equal(before.samples['retry_engine_parked_entries{status="parked"}'], 0)

  await engine.start()
  await engine.park('agent:main:later', { status: 429, headers: { 'retry-after': '3600' } }, { provider: 'openai' })
  await engine.park('agent:main:soon', { status: 429, headers: { 'retry-after': '1' } }, { provider: 'anthropic' })
  await engine.park('agent:main:billing', 'Your credit balance is too low to access the Anthropic API.')
  engine.recordFailure('cron:nightly', 'Your credit balance is too low to access the Anthropic API.')
  engine.breakerAcquire('cron:nightly')
  engine.breakerRecord('cron:nightly', false)
  assert.equal(await resent, 'agent:main:soon')
  let m
  for (let i = 0; i < 6000; i++) {
    m = parse(await engine.metrics())
    if (m.samples['retry_engine_probes_total{group="anthropic",outcome="ok"}'] === 1) break
    await new Promise((r) => setTimeout(r, 10))
  }
  const s = m.samples
  assert.equal(m.families.retry_engine_parks, 'counter')
  assert.equal(m.families.retry_engine_parked_entries, 'gauge')
  assert.equal(m.families.retry_engine_resume_lag_seconds, 'histogram')
  assert.equal(s['retry_engine_parks_total{reason="rate_limit"}'], 2)
  assert.equal(s['retry_engine_rejected_parks_total{code="E_NOT_RETRYABLE"}'], 1)
  assert.equal(s['retry_engine_resends_total{kind="probe"}'], 1)
  assert.equal(s['retry_engine_probes_total{group="anthropic",outcome="ok"}'], 1)
  assert.equal(s['retry_engine_alerts_total{reason="billing"}'] >= 1, true)
  assert.equal(s['retry_engine_breaker_transitions_total{state="open",key_class="cron"}'], 1)
  assert.equal(s['retry_engine_parked_entries{status="parked"}'], 1, 'the 1-hour one is still parked')
  assert.equal(s.retry_engine_resume_lag_seconds_count, 1)
  assert.equal(s['retry_engine_resume_lag_seconds_bucket{le="+Inf"}'], 1)
  assert.ok(s.retry_engine_resume_lag_seconds_sum >= 0)
  await engine.close()
})
