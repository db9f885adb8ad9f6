// Quick start: classify provider failures, get reason-aware decisions, park a rate-limited
// session and watch the engine resend it (one probe first) when its window resets.
// Run: node examples/quickstart.mjs   (after `npm run build`)
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
const { RetryEngine } = require('../index.js')

const stateDir = mkdtempSync(join(tmpdir(), 'retry-engine-quickstart-'))
const resent = []
const engine = new RetryEngine({
  stateDir,
  onEvent: (event) => console.log('event:', JSON.stringify(event)),
  // Plain scripts resend through their own callback; OpenClaw setups use the gateway (default).
  resend: async (req) => {
    resent.push(req.sessionKey)
    console.log(`resend ${req.sessionKey} (attempt ${req.attempts}): ${req.message}`)
  },
})

try {
  console.log('\n1. classify')
  const openaiTpm = {
    status: 429,
    headers: { 'x-ratelimit-reset-tokens': '1s', 'x-ratelimit-remaining-tokens': '0' },
    body: { error: { message: 'Rate limit reached for gpt-4o-mini on tokens per min (TPM). Please try again in 1.146s.', code: 'rate_limit_exceeded' } },
  }
  console.log(engine.classify(openaiTpm))
  console.log(engine.classify('Your credit balance is too low to access the Anthropic API.'))
  console.log('ordinary reply is not an error:', engine.isSurfacedError('Back off when you get HTTP 429 and read Retry-After.'))

  console.log('\n2. decide')
  console.log(engine.recordFailure('cron:nightly-report', openaiTpm))
  console.log(engine.recordFailure('cron:billing-job', { status: 402, body: 'insufficient credits' }))

  console.log('\n3. park and resume')
  await engine.start()
  for (const key of ['agent:main:a', 'agent:main:b', 'agent:main:c']) {
    const outcome = await engine.park(key, openaiTpm, { provider: 'openai', message: 'Please continue.' })
    console.log(key, outcome.action, 'until', new Date(outcome.retryAtMs).toISOString())
  }
  const deadline = Date.now() + 15_000
  while (resent.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  console.log('resent:', resent.join(', '))
  console.log('still parked:', (await engine.pending()).length)
  if (resent.length !== 3) throw new Error('not every parked session was resent')
} finally {
  await engine.close()
  rmSync(stateDir, { recursive: true, force: true })
}
