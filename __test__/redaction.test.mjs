// A configured secret (gateway token/password) or a known key format inside a failure never
// reaches the state files (queue.journal, queue.json, profiles), events, errors or results.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const TOKEN = 'gw-token-Q7f3kP9xL2mN8vR4'
const PASSWORD = 'gw-pass-Zt5yH1wE6uJ0'
const KEYS = [
  'sk-proj-abcDEF1234567890abcdef',
  'sk-ant-api03-abcdefGHIJKL123456',
  'gsk_abcdefgh12345678ABCDEFGH',
  'xai-abcdefgh12345678ABCDEFGH',
  'AIzaSyA1234567890abcdefGHIJ',
  'eyJhbGciOiJIUzI1NiJ9.payload.sig',
  'u53r:pa55w0rd',
]
const SECRETS = [TOKEN, PASSWORD, ...KEYS, 'pa55w0rd']

function secretBits (i) {
  return `token ${TOKEN} password ${PASSWORD} key ${KEYS[i % 6]} ` +
    `Authorization: Bearer ${KEYS[5]} via https://${KEYS[6]}@proxy.example/v1`
}
const failureText = (i) => `429 Too Many Requests: ${secretBits(i)} rate limit exceeded`

function leaks (text) {
  return SECRETS.filter((s) => text.includes(s))
}

function filesUnder (dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name)
    return d.isDirectory() ? filesUnder(p) : [p]
  })
}

test('secrets in failures reach no state file, event, error or result', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-redact-'))
  const events = []
  const engine = new RetryEngine({
    stateDir: dir,
    onEvent: (e) => events.push(e),
    resend: async () => {},
    gateway: { url: 'ws://127.0.0.1:9', token: TOKEN, password: PASSWORD, connectBudgetMs: 200 },
  })
  const results = []
  const errors = []
  try {
    await engine.start()
    for (let i = 0; i < KEYS.length; i++) {
      const text = failureText(i)
      results.push(engine.classify(text))
      results.push(engine.classify({ status: 429, headers: { 'retry-after': '3600', authorization: `Bearer ${TOKEN}` }, body: { error: { message: text } } }))
      results.push(engine.recordFailure(`billing:${i}`, { status: 402, body: `Insufficient credits, add more: ${secretBits(i)}` }))
      results.push(await engine.park(`s:${i}`, new Error(text), { provider: 'openai', message: `resume ${TOKEN}`, apiKey: KEYS[i], nested: { token: TOKEN } }))
      results.push(await engine.park(`auth:${i}`, { status: 401, body: `Incorrect API key provided: ${secretBits(i)}` }))
      await engine.registerProfile(`p:${i}`, "openai")
      results.push(await engine.markProfile(`p:${i}`, { status: 429, body: text }))
    }
    results.push(await engine.pending())
    results.push(await engine.get('s:0'))
    results.push(await engine.stats())
    results.push(await engine.profiles())
    await engine.gatewayRequest('health', { note: TOKEN }).catch((e) => errors.push(e))
    await engine.sendToSession('s:0', `hello ${TOKEN}`).catch((e) => errors.push(e))
    // Events arrive through the event loop: wait until the ones asserted below are in.
    for (let i = 0; i < 500 && !(events.some((e) => e.type === 'parked') && events.some((e) => e.type === 'alert') && events.some((e) => e.type === 'rejected')); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  } finally {
    await engine.close()
  }
  assert.ok(results.filter((r) => r?.parked).length >= KEYS.length, 'the failures were parked')
  assert.ok(events.some((e) => e.type === 'parked') && events.some((e) => e.type === 'alert') && events.some((e) => e.type === 'rejected'), JSON.stringify(events.map((e) => e.type)))
  assert.ok(errors.length >= 1)
  for (const [what, text] of [
    ['results', JSON.stringify(results)],
    ['events', JSON.stringify(events)],
    ['errors', JSON.stringify(errors.map((e) => ({ code: e.code, message: e.message })))],
  ]) {
    assert.deepEqual(leaks(text), [], `${what} hold secrets: ${text.slice(0, 1500)}`)
  }
  const files = filesUnder(dir)
  assert.ok(files.some((f) => f.endsWith('queue.journal') || f.endsWith('queue.json')), `no queue file in ${files}`)
  for (const f of files) {
    assert.deepEqual(leaks(fs.readFileSync(f, 'utf8')), [], `${path.basename(f)} holds secrets`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
})
