// Liveness the net.Server way, observed on child processes: a started engine keeps Node alive
// until close(), unref() opts out and ref() back in, callbacks alone never hold Node, a
// dropped started engine is not stopped by garbage collection, and `await using` closes.
// "Alive" is observed without timing: the child unrefs its IPC channel, so the only thing that
// can keep it running long enough to answer our message is the engine. The kill timeout is
// only a guard against a hang.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { fork, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { layout } from '../scripts/setup-openclaw.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const KILL_AFTER_MS = 60_000
const dirs = []
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** Write `body` as an ESM child script that has `RetryEngine`, `stateDir` and `send`. */
function script (body) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-live-'))
  dirs.push(dir)
  const file = path.join(dir, 'child.mjs')
  fs.writeFileSync(
    file,
    `import { createRequire } from 'node:module'
const { RetryEngine } = createRequire(${JSON.stringify(path.join(ROOT, 'index.js'))})('.')
const stateDir = ${JSON.stringify(path.join(dir, 'state'))}
const send = (m) => process.send?.(m)
if (process.channel) process.channel.unref()
${body}
`,
  )
  return file
}

/**
 * Run a child. `onMessage(msg, child)` sees its IPC messages. Resolves `{code, signal,
 * messages, stdout}` when it exits; kills it (and fails) after the guard timeout.
 */
function run (file, { onMessage = () => {}, execArgv = [], execPath = process.execPath } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(file, [], { execArgv, execPath, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    const messages = []
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const guard = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`child hung (messages: ${JSON.stringify(messages)}; stderr: ${stderr})`))
    }, KILL_AFTER_MS)
    child.on('message', (m) => {
      messages.push(m)
      onMessage(m, child)
    })
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, messages, stdout, stderr })
    })
  })
}

test('a never-started engine with onEvent and resend does not keep Node alive', async () => {
  const file = script(`
const engine = new RetryEngine({ stateDir, onEvent: () => {}, resend: async () => {} })
engine.recordFailure('cron:a', 'Your credit balance is too low')   // emits an alert event
send('constructed')
`)
  const r = await run(file)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.messages, ['constructed'])
})

test('a started engine keeps Node alive until close()', async () => {
  const file = script(`
const engine = new RetryEngine({ stateDir })
await engine.start()
process.on('message', async (m) => {
  if (m === 'close') { send('hasRef:' + engine.hasRef()); await engine.close(); send('closed:' + engine.hasRef()) }
})
send('started')
`)
  const r = await run(file, { onMessage: (m, child) => { if (m === 'started') child.send('close') } })
  assert.equal(r.code, 0, r.stderr)
  // It was still alive to receive 'close' although nothing but the engine held it.
  assert.deepEqual(r.messages, ['started', 'hasRef:true', 'closed:false'])
})

test('a started engine resends a session due soon in this same process', async () => {
  const file = script(`
const engine = new RetryEngine({
  stateDir,
  resend: async (req) => { send('resent:' + req.sessionKey); await engine.close({ timeoutMs: 0 }) },
})
await engine.start()
await engine.park('agent:main:soon', { status: 429, headers: { 'retry-after': '1' } })
send('parked')
`)
  const r = await run(file)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.messages, ['parked', 'resent:agent:main:soon'])
})

test('unref() lets a started engine go; ref() holds Node again', async () => {
  const unrefd = script(`
const engine = new RetryEngine({ stateDir, resend: async () => send('resent') })
await engine.start()
await engine.park('agent:main:later', { status: 429, headers: { 'retry-after': '3600' } })
if (engine.unref() !== engine) throw new Error('unref() must return the engine')
send('unref:' + engine.hasRef())
`)
  const r = await run(unrefd)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.messages, ['unref:false']) // exited on its own; we never asked it to

  const reffed = script(`
const engine = new RetryEngine({ stateDir })
await engine.start()
engine.unref()
engine.ref()
process.on('message', async () => { await engine.close(); send('closed') })
send('ref:' + engine.hasRef())
`)
  const r2 = await run(reffed, { onMessage: (m, child) => { if (m.startsWith('ref:')) child.send('close') } })
  assert.equal(r2.code, 0, r2.stderr)
  assert.deepEqual(r2.messages, ['ref:true', 'closed'])
})

test('a started engine dropped without close() is not stopped by garbage collection', async () => {
  const file = script(`
let engine = new RetryEngine({
  stateDir,
  resend: async (req) => { send('resent:' + req.sessionKey); process.exit(0) },
})
await engine.start()
await engine.park('agent:main:dropped', { status: 429, headers: { 'retry-after': '1' } })
engine = null
for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)) }
send('collected')
const timer = setInterval(() => globalThis.gc(), 50); timer.unref()
`)
  const r = await run(file, { execArgv: ['--expose-gc'] })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.messages, ['collected', 'resent:agent:main:dropped'])
})

test('Symbol.asyncDispose closes the engine', async () => {
  const file = script(`
const engine = new RetryEngine({ stateDir })
await engine.start()
await engine[Symbol.asyncDispose]()
send('disposed:' + engine.hasRef())
await engine.park('k', 'HTTP 429').catch((e) => send(e.code))
`)
  const r = await run(file)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.messages, ['disposed:false', 'E_CLOSED'])
})

test('await using closes the engine at the end of the block (Node 24)', async (t) => {
  const nodeBin = node24()
  if (!nodeBin) return t.skip('Node 24 is not installed (npm run setup installs it)')
  const file = script(`
let outer
{
  await using engine = new RetryEngine({ stateDir })
  outer = engine
  await engine.start()
  send('inside:' + engine.hasRef())
}
send('after:' + outer.hasRef())
`)
  const r = await run(file, { execPath: nodeBin })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.messages, ['inside:true', 'after:false'])
})

/** The Node 24 binary the e2e setup installed, if any. */
function node24 () {
  const candidates = [process.execPath, layout().nodeBin]
  for (const bin of candidates) {
    if (!bin || !fs.existsSync(bin)) continue
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()
    if (Number(v.replace(/^v/, '').split('.')[0]) >= 24) return bin
  }
  return null
}
