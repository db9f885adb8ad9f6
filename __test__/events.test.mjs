// Events: engine.on(type | '*', listener) with unsubscribe, several listeners per type, the
// onEvent shorthand, atMs on every event, old kebab-case type names, and containment of
// listeners that throw or reject (child processes show the process survives).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { RetryEngine, tmpDirs } from './helpers/engines.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BILLING = 'Your credit balance is too low to access the Anthropic API.'
const tmpDir = tmpDirs('events')
/** Let queued event deliveries run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20))
async function until (predicate, what) {
  for (let i = 0; i < 3000 && !predicate(); i++) await settle()
  assert.ok(predicate(), `never saw ${what}`)
}

test('on(type) and on("*"): several listeners, unsubscribe, atMs, onEvent shorthand', async () => {
  const all = []
  const engine = new RetryEngine({ stateDir: tmpDir(), onEvent: (e) => all.push(e) })
  const alerts1 = []
  const alerts2 = []
  const star = []
  const off1 = engine.on('alert', (e) => alerts1.push(e))
  engine.on('alert', (e) => alerts2.push(e))
  engine.on('*', (e) => star.push(e.type))
  const before = Date.now()
  engine.recordFailure('cron:billing', BILLING)
  await until(() => alerts2.length === 1, 'the alert')
  assert.equal(alerts1.length, 1)
  assert.equal(alerts1[0].type, 'alert')
  assert.equal(alerts1[0].key, 'cron:billing')
  assert.ok(alerts1[0].atMs >= before && alerts1[0].atMs <= Date.now(), 'atMs is the emit time')
  assert.ok(all.some((e) => e.type === 'alert'), 'onEvent receives every event')
  assert.ok(star.includes('alert'))
  assert.ok(all.every((e) => typeof e.atMs === 'number'), 'every event has atMs')

  assert.equal(off1(), true)
  assert.equal(off1(), false, 'a second unsubscribe reports it was already gone')
  engine.reset('cron:billing')
  engine.recordFailure('cron:billing', BILLING)
  await until(() => alerts2.length === 2, 'the second alert')
  assert.equal(alerts1.length, 1, 'an unsubscribed listener hears nothing more')
  await engine.close()
})

test('old kebab-case type names subscribe to the same events', async () => {
  const engine = new RetryEngine({ stateDir: tmpDir(), breaker: { failureThreshold: 1, cooldownMs: 1 } })
  const kebab = []
  const snake = []
  engine.on('breaker-opened', (e) => kebab.push(e.type))
  engine.on('breaker_opened', (e) => snake.push(e.type))
  engine.breakerAcquire('k', 1000)
  engine.breakerRecord('k', false, 1000)
  await until(() => kebab.length === 1 && snake.length === 1, 'breaker_opened twice')
  assert.deepEqual(kebab, snake)
  await engine.close()
})

test('on() rejects a missing type or a non-function listener with a coded error', () => {
  const engine = new RetryEngine({ stateDir: tmpDir() })
  assert.throws(() => engine.on('', () => {}), { code: 'E_INVALID_INPUT' })
  assert.throws(() => engine.on('alert', 42), { code: 'E_INVALID_INPUT', message: /listener/ })
  assert.throws(() => engine.on(7, () => {}), { code: 'E_INVALID_INPUT', message: /type/ })
})

test('a throwing or rejecting listener is reported as listener_error, the call still succeeds', async () => {
  const engine = new RetryEngine({ stateDir: tmpDir() })
  const errors = []
  const later = []
  engine.on('parked', () => { throw new Error('sync boom') })
  engine.on('parked', async () => { throw new Error('async boom') })
  engine.on('parked', (e) => later.push(e.sessionKey))
  engine.on('listener_error', (e) => errors.push(e))
  await engine.start()
  const outcome = await engine.park('agent:main:x', { status: 429, headers: { 'retry-after': '3600' } })
  assert.equal(outcome.action, 'parked')
  await until(() => errors.length === 2, 'two listener errors')
  assert.deepEqual(later, ['agent:main:x'], 'the listeners after a throwing one still run')
  const messages = errors.map((e) => e.message).sort()
  assert.match(messages[0], /listener for `parked` failed: Error: async boom/)
  assert.match(messages[1], /listener for `parked` failed: Error: sync boom/)
  for (const e of errors) {
    assert.equal(e.type, 'listener_error')
    assert.equal(e.eventType, 'parked')
    assert.equal(typeof e.atMs, 'number')
  }
  await engine.close()
})

test('without a listener_error listener a failing listener becomes a process warning, never a crash', () => {
  const dir = tmpDir()
  const file = path.join(dir, 'child.mjs')
  fs.writeFileSync(file, `
import { createRequire } from 'node:module'
const { RetryEngine } = createRequire(${JSON.stringify(path.join(ROOT, 'index.js'))})('.')
const warnings = []
process.on('warning', (w) => warnings.push(w.code + ' ' + w.message))
const engine = new RetryEngine({
  stateDir: ${JSON.stringify(path.join(dir, 'state'))},
  onEvent: () => { throw new Error('onEvent sync') },
})
engine.on('parked', () => Promise.reject(new Error('rejected listener')))
engine.on('parked', () => { throw Object.create(null) })   // not even convertible to text
await engine.start()
const o = await engine.park('agent:main:y', { status: 429, headers: { 'retry-after': '3600' } })
for (let i = 0; i < 50 && warnings.length < 3; i++) await new Promise((r) => setTimeout(r, 20))
await engine.close()
console.log(JSON.stringify({ action: o.action, warnings }))
`)
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.equal(out.action, 'parked')
  assert.equal(out.warnings.length, 3, out.warnings.join('\n'))
  assert.ok(out.warnings.every((w) => w.startsWith('RETRY_ENGINE_LISTENER_ERROR ')))
  assert.ok(out.warnings.some((w) => w.includes('onEvent sync')))
  assert.ok(out.warnings.some((w) => w.includes('rejected listener')))
  assert.ok(out.warnings.some((w) => w.includes('cannot be turned into text')))
})
