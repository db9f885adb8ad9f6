// Quick start (the same code as README "Quick start"): classify a provider failure, park the
// failed session, and let the engine resend it when its window resets.
// Run: node node_modules/openclaw-retry-engine/examples/quickstart.mjs
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RetryEngine } from 'openclaw-retry-engine'

const stateDir = mkdtempSync(join(tmpdir(), 'retry-engine-quickstart-'))
let resent
const done = new Promise((resolve) => { resent = resolve })

const engine = new RetryEngine({
  stateDir, // the durable queue lives here (0700 directory, 0600 files)
  // Plain scripts resend through their own callback; omit `resend` to resend through the
  // OpenClaw gateway (`gateway: { url, token }`).
  resend: async ({ sessionKey, message, attempts }) => {
    console.log(`resend ${sessionKey} (attempt ${attempts}): ${message}`)
    resent(sessionKey)
  },
})
engine.on('parked', (e) => console.log(`parked ${e.sessionKey} (${e.reason}) until ${new Date(e.retryAtMs).toISOString()}`))

// 1. classify: a 429 with a retry hint
const rateLimited = Object.assign(new Error('429 Rate limit reached for gpt-4o-mini. Please try again in 1s.'), {
  status: 429,
  headers: { 'retry-after': '1' },
})
console.log(engine.classify(rateLimited))

// 2. decide: billing stops at once (and alerts once), rate limits back off
console.log(engine.recordFailure('cron:nightly-report', 'Your credit balance is too low to access the API.'))

// 3. park and resume
await engine.start()
const outcome = await engine.park('agent:main:chat-42', rateLimited, { provider: 'openai', message: 'Please continue.' })
console.log(outcome.action, outcome.why)
console.log('resent:', await done)
await engine.close()
rmSync(stateDir, { recursive: true, force: true })
