// Durable decision state: breakers, disables, alert windows and the message guard survive
// close() and a new engine on the same state dir; exportState()/importState().
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const BILLING = { status: 402, body: 'Your credit balance is too low to access the Anthropic API.' }
const SURFACED = '⚠️ LLM request failed (rate limited, HTTP 429). This is usually temporary — try again shortly.'
const dirs = []
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-state-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

function engine (stateDir, events = []) {
  return new RetryEngine({ stateDir, seed: 9, resend: async () => {}, onEvent: (e) => events.push(e) })
}

test('an open breaker, a billing-disabled cron key and the hourly alert survive a restart', async () => {
  const dir = tmpDir()
  const firstEvents = []
  const a = engine(dir, firstEvents)
  await a.start()
  for (let i = 0; i < 5; i++) a.breakerRecord('provider:openai', false)
  assert.equal(a.recordFailure('cron:nightly', BILLING).alert, true)
  assert.equal(a.checkMessage('room-1', SURFACED).cancel, false)
  await a.close()
  assert.equal(firstEvents.filter((e) => e.type === 'alert').length, 1)

  const events = []
  const b = engine(dir, events)
  await b.start()
  try {
    assert.equal(b.breakerState('provider:openai').state, 'open')
    assert.equal(b.breakerAcquire('provider:openai').permit, 'rejected')
    assert.equal(b.state('cron:nightly').disabled, true)
    assert.equal(b.recordFailure('cron:nightly', BILLING).alert, false, 'one alert per hour across restarts')
    assert.equal(b.checkMessage('room-1', SURFACED).cancel, true)
    assert.equal(events.filter((e) => e.type === 'alert').length, 0)
  } finally {
    await b.close()
  }
  const files = fs.readdirSync(dir)
  assert.ok(files.includes('decisions.journal') && files.includes('decisions.json'), files.join(','))
  const mode = fs.statSync(path.join(dir, 'decisions.journal')).mode & 0o777
  assert.equal(mode, 0o600)
  const text = fs.readFileSync(path.join(dir, 'decisions.journal'), 'utf8')
  for (const line of text.trim().split('\n')) assert.match(JSON.parse(line).crc, /^[0-9a-f]{8}$/)
})

test('exportState() round-trips through JSON into another engine; bad input is refused whole', async () => {
  const a = engine(tmpDir())
  for (let i = 0; i < 5; i++) a.breakerRecord('anthropic', false)
  a.recordFailure('cron:x', BILLING)
  const exported = JSON.parse(JSON.stringify(a.exportState()))
  assert.deepEqual(Object.keys(exported).sort(), ['breakers', 'guard', 'policy'])
  assert.equal(exported.breakers.anthropic.phase.state, 'open')
  const b = engine(tmpDir())
  assert.equal(b.importState(exported), 2)
  assert.equal(b.breakerState('anthropic').state, 'open')
  assert.equal(b.state('cron:x').disabled, true)
  for (const bad of [null, 7, { policy: 3 }, { extra: {} }, { policy: { k: { consecutiveErrors: 'x' } } }]) {
    assert.throws(() => b.importState(bad), (e) => e.code === 'E_INVALID_INPUT', JSON.stringify(bad))
  }
  await a.close()
  await b.close()
})
