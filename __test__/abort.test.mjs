// Cancellation: AbortSignal on start / sendToSession / gatewayRequest (E_ABORTED), close()
// rejecting gateway calls still waiting (E_CLOSED) so Node exits, the resend callback's
// request.signal, and close({ timeoutMs }) waiting for in-flight resends then aborting them.
// The "gateway" is a TCP server on 127.0.0.1 that accepts and never answers, so a gateway
// call stays in flight until it is cancelled.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { RetryEngine, tmpDirs } from './helpers/engines.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SOON = { status: 429, headers: { 'retry-after': '1' }, body: 'rate limited' }
// Budgets far beyond the kill guard: only cancellation can end a call in this test file.
const NEVER = { requestTimeoutMs: 600_000, connectBudgetMs: 600_000 }

const tmpDir = tmpDirs('abort')
let silent
let url
const sockets = new Set()
before(async () => {
  // Reads (and drops) what clients send, so it sees them close; never holds the test process.
  silent = net.createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    s.resume()
    s.unref()
  })
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve))
  silent.unref()
  url = `ws://127.0.0.1:${silent.address().port}`
})
after(() => {
  for (const s of sockets) s.destroy()
  silent.close()
})

const engineFor = (extra = {}) => new RetryEngine({ stateDir: tmpDir(), gateway: { url, ...NEVER }, ...extra })

test('an already aborted signal rejects at once with E_ABORTED (no throw)', async () => {
  const engine = engineFor()
  const signal = AbortSignal.abort()
  await assert.rejects(engine.gatewayRequest('health', {}, { signal }), { code: 'E_ABORTED' })
  await assert.rejects(engine.sendToSession('agent:main:a', 'hi', { signal }), { code: 'E_ABORTED' })
  await assert.rejects(engine.start({ signal }), { code: 'E_ABORTED' })
  await assert.rejects(engine.park('k', 'HTTP 429'), { code: 'E_NOT_STARTED' }, 'an aborted start leaves it unstarted')
  assert.equal(engine.hasRef(), false)
  await engine.start()
  assert.equal(engine.hasRef(), true)
  await engine.close()
})

test('aborting a gateway call in flight rejects it with E_ABORTED', async () => {
  const engine = engineFor()
  const c1 = new AbortController()
  const pending1 = engine.gatewayRequest('cron.list', {}, { signal: c1.signal })
  const c2 = new AbortController()
  const pending2 = engine.sendToSession('agent:main:b', 'hello', { idempotencyKey: 'k-1', signal: c2.signal })
  c1.abort()
  c2.abort()
  // Both handlers attached at once: either may reject first.
  await Promise.all([
    assert.rejects(pending1, { code: 'E_ABORTED' }),
    assert.rejects(pending2, { code: 'E_ABORTED' }),
  ])
  await engine.close()
})

test('a wrong signal or options bag rejects with E_INVALID_INPUT', async () => {
  const engine = engineFor()
  await assert.rejects(engine.gatewayRequest('health', {}, { signal: 'nope' }), { code: 'E_INVALID_INPUT', message: /opts\.signal/ })
  await assert.rejects(engine.sendToSession('agent:main:c', 'x', 42), { code: 'E_INVALID_INPUT' })
  await assert.rejects(engine.start({ signal: {} }), { code: 'E_INVALID_INPUT' })
  await assert.rejects(engine.close({ timeoutMs: -1 }), { code: 'E_INVALID_INPUT' })
  await engine.close()
})

test('close() rejects gateway calls still waiting with E_CLOSED and Node exits', async () => {
  const dir = tmpDir()
  const file = path.join(dir, 'child.mjs')
  fs.writeFileSync(file, `
import { createRequire } from 'node:module'
const { RetryEngine } = createRequire(${JSON.stringify(path.join(ROOT, 'index.js'))})('.')
const engine = new RetryEngine({ stateDir: ${JSON.stringify(path.join(dir, 'state'))}, gateway: ${JSON.stringify({ url, ...NEVER })} })
await engine.start()
const inFlight = engine.sendToSession('agent:main:d', 'hello').catch((e) => e.code)
await new Promise((r) => setTimeout(r, 50))
await engine.close()
console.log('call:', await inFlight)
`)
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { out += d })
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(guard)
  assert.equal(signal, null, `the child lingered after close() and was killed:\n${out}`)
  assert.equal(code, 0, out)
  assert.match(out, /call: E_CLOSED/)
})

test('the resend callback gets a signal that close({ timeoutMs: 0 }) aborts; the session stays parked', async () => {
  const stateDir = tmpDir()
  let seen
  let closing
  const engine = new RetryEngine({
    stateDir,
    resend: (req) => new Promise((resolve) => {
      seen = { aborted: req.signal.aborted, key: req.sessionKey, idempotencyKey: req.idempotencyKey }
      req.signal.addEventListener('abort', () => { seen.abortedLater = true; resolve() })
      closing = engine.close({ timeoutMs: 0 })
    }),
  })
  await engine.start()
  await engine.park('agent:main:e', SOON)
  for (let i = 0; i < 6000 && !closing; i++) await new Promise((r) => setTimeout(r, 10))
  assert.ok(closing, 'the resend ran')
  await closing
  assert.deepEqual(seen, { aborted: false, key: 'agent:main:e', idempotencyKey: 'resume:agent:main:e:2', abortedLater: true })
  // The aborted resend did not count: the next engine resends the same attempt at once.
  let again
  const resent = new Promise((resolve) => {
    again = new RetryEngine({ stateDir, resend: async (req) => resolve(req) })
  })
  await again.start()
  const req = await resent
  assert.equal(req.sessionKey, 'agent:main:e')
  assert.equal(req.idempotencyKey, 'resume:agent:main:e:2')
  await again.close()
})

test('close({ timeoutMs }) lets an in-flight resend finish first (its signal is never aborted)', async () => {
  const stateDir = tmpDir()
  const order = []
  let finish
  let request
  const engine = new RetryEngine({
    stateDir,
    resend: (req) => new Promise((resolve) => {
      request = req
      finish = () => { order.push('resend-finished'); resolve() }
    }),
  })
  await engine.start()
  await engine.park('agent:main:f', SOON)
  for (let i = 0; i < 6000 && !finish; i++) await new Promise((r) => setTimeout(r, 10))
  assert.ok(finish, 'the resend ran')
  const closed = engine.close({ timeoutMs: 600_000 }).then(() => order.push('closed'))
  await new Promise((r) => setTimeout(r, 50))
  assert.deepEqual(order, [], 'close() is waiting for the resend')
  finish()
  await closed
  assert.deepEqual(order, ['resend-finished', 'closed'])
  assert.equal(request.signal.aborted, false)
  const again = new RetryEngine({ stateDir })
  await again.start()
  assert.deepEqual(await again.pending(), [], 'the acknowledged resend left the queue')
  await again.close()
})
