// The durable park queue: start/park/get/pending/unpark/resolve/stats, caps, restarts,
// crashes, two processes, corrupt files, the old plugin's queue.json, file modes.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const FIXTURE = fileURLToPath(new URL('./fixtures/park-loop.mjs', import.meta.url))
const LATER = { status: 429, headers: { 'retry-after': '3600' }, body: 'rate limited' }
const BILLING = 'Your credit balance is too low to access the Anthropic API.'
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))
const dirs = []
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-queue-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

async function withEngine (options, fn) {
  const events = []
  const engine = new RetryEngine({
    seed: 5,
    resend: async () => {}, // nothing here falls due; never touch a real gateway
    ...options,
    onEvent: (e) => events.push(e)
  })
  try {
    await fn(engine, events)
  } finally {
    await engine.close()
  }
}

test('park, get, pending, stats, unpark, resolve', async () => {
  const stateDir = tmpDir()
  await withEngine({ stateDir }, async (engine, events) => {
    await engine.start()
    await engine.start() // idempotent
    const before = Date.now()
    const a = await engine.park('agent:main:a', LATER, { provider: 'openai', message: 'continue please' })
    assert.equal(a.parked, true)
    assert.equal(a.action, 'parked')
    assert.equal(a.reason, 'rate_limit')
    assert.equal(a.attempts, 1)
    assert.ok(a.retryAtMs >= before + 3_600_000, 'parked until the hint')
    assert.equal(a.classification.retryAfterMs, 3_600_000)

    await engine.park('agent:main:b', { status: 503, body: 'Service Unavailable' }, { group: 'g2' })
    const entry = await engine.get('agent:main:a')
    assert.equal(entry.sessionKey, 'agent:main:a')
    assert.equal(entry.status, 'parked')
    assert.equal(entry.group, 'openai')
    assert.equal(entry.meta.message, 'continue please')
    assert.equal(entry.attempts, 1)
    assert.equal(entry.retryAtMs, a.retryAtMs)
    assert.equal(await engine.get('nobody'), null)

    const pending = await engine.pending()
    assert.deepEqual(pending.map((e) => e.sessionKey), ['agent:main:b', 'agent:main:a'], 'earliest due first')
    const stats = await engine.stats()
    assert.equal(stats.running, true)
    assert.equal(stats.parked, 2)
    assert.equal(stats.stateDir, stateDir)
    assert.deepEqual(stats.byGroup, { openai: 1, g2: 1 })
    assert.deepEqual(stats.byReason, { rate_limit: 1, server_error: 1 })
    assert.equal(stats.nextDueAtMs, pending[0].retryAtMs)

    const removed = await engine.unpark('agent:main:b')
    assert.equal(removed.sessionKey, 'agent:main:b')
    assert.equal(await engine.unpark('agent:main:b'), null)
    assert.equal(await engine.resolve('agent:main:a'), true)
    assert.equal(await engine.resolve('agent:main:a'), false)
    assert.equal(engine.state('agent:main:a'), null, 'resolve clears the policy state')
    assert.deepEqual(await engine.pending(), [])
    assert.equal((await engine.stats()).parked, 0)
    await settle()
    assert.equal(events.filter((e) => e.type === 'parked').length, 2)
    assert.deepEqual(events.filter((e) => e.type === 'resolved').map((e) => e.sessionKey), ['agent:main:a'])
  })
})

test('a non-failure is ignored, not parked', async () => {
  await withEngine({ stateDir: tmpDir() }, async (engine) => {
    await engine.start()
    const o = await engine.park('s', { success: true, messages: [{ role: 'assistant', content: 'done', stopReason: 'stop' }] })
    assert.equal(o.parked, false)
    assert.equal(o.action, 'ignored')
    assert.deepEqual(await engine.pending(), [])
  })
})

test('only retryable reasons are parked: billing is rejected with E_NOT_RETRYABLE', async () => {
  await withEngine({ stateDir: tmpDir() }, async (engine, events) => {
    await engine.start()
    for (const [key, input] of [['bill', BILLING], ['auth', { status: 401, body: 'Unauthorized' }], ['ctx', 'prompt is too long: 207791 tokens > 200000 maximum']]) {
      const o = await engine.park(key, input)
      assert.equal(o.parked, false, key)
      assert.equal(o.action, 'rejected', key)
      assert.equal(await engine.get(key), null, key)
    }
    await settle()
    const rejected = events.filter((e) => e.type === 'rejected')
    assert.deepEqual(rejected.map((e) => e.sessionKey), ['bill', 'auth', 'ctx'])
    assert.ok(rejected.every((e) => e.code === 'E_NOT_RETRYABLE'))
    assert.equal(events.filter((e) => e.type === 'parked').length, 0)
  })
})

test('a parked session that then fails with billing is removed (abandoned)', async () => {
  await withEngine({ stateDir: tmpDir() }, async (engine, events) => {
    await engine.start()
    await engine.park('s', LATER)
    const o = await engine.park('s', BILLING)
    assert.equal(o.action, 'rejected')
    assert.equal(await engine.get('s'), null)
    await settle()
    assert.equal(events.filter((e) => e.type === 'abandoned' && e.sessionKey === 's').length, 1)
  })
})

test('one entry per session key; a repeat updates attempts, error and due time', async () => {
  await withEngine({ stateDir: tmpDir() }, async (engine) => {
    await engine.start()
    await engine.park('s', LATER)
    const o2 = await engine.park('s', { status: 503, body: 'upstream overloaded, Service Unavailable' })
    assert.equal(o2.action, 'updated')
    assert.equal(o2.attempts, 2)
    const o3 = await engine.park('s', LATER)
    assert.equal(o3.attempts, 3)
    const pending = await engine.pending()
    assert.equal(pending.length, 1)
    assert.equal(pending[0].attempts, 3)
    assert.equal(pending[0].retryAtMs, o3.retryAtMs)
    assert.equal(pending[0].reason, 'rate_limit')
  })
})

test('queue.maxAttempts: the failure that reaches it abandons the session', async () => {
  await withEngine({ stateDir: tmpDir(), queue: { maxAttempts: 3 } }, async (engine, events) => {
    await engine.start()
    assert.equal((await engine.park('s', LATER)).action, 'parked')
    assert.equal((await engine.park('s', LATER)).action, 'updated')
    const third = await engine.park('s', LATER)
    assert.equal(third.action, 'abandoned', 'three sends failed: a fourth would exceed maxAttempts')
    assert.equal(third.parked, false)
    assert.equal(await engine.get('s'), null)
    await settle()
    const abandoned = events.filter((e) => e.type === 'abandoned')
    assert.equal(abandoned.length, 1)
    assert.equal(abandoned[0].sessionKey, 's')
    assert.equal(abandoned[0].attempts, 3)
  })
})

test('queue.maxEntries: a new key beyond it is refused with E_QUEUE_FULL, nothing is evicted', async () => {
  await withEngine({ stateDir: tmpDir(), queue: { maxEntries: 2 } }, async (engine, events) => {
    await engine.start()
    await engine.park('a', LATER)
    await engine.park('b', LATER)
    await assert.rejects(engine.park('c', LATER), (e) => {
      assert.equal(e.code, 'E_QUEUE_FULL')
      assert.match(e.message, /maxEntries/)
      return true
    })
    assert.deepEqual((await engine.pending()).map((e) => e.sessionKey).sort(), ['a', 'b'])
    // Updating a parked key still works at the cap.
    assert.equal((await engine.park('a', LATER)).action, 'updated')
    await engine.unpark('b')
    assert.equal((await engine.park('c', LATER)).action, 'parked')
    await settle()
    const rejected = events.filter((e) => e.type === 'rejected')
    assert.equal(rejected.length, 1)
    assert.equal(rejected[0].sessionKey, 'c')
    assert.equal(rejected[0].code, 'E_QUEUE_FULL')
  })
})

test('entries survive close and a new engine on the same stateDir', async () => {
  const stateDir = tmpDir()
  let before
  await withEngine({ stateDir }, async (engine) => {
    await engine.start()
    for (let i = 0; i < 10; i++) await engine.park(`s${i}`, LATER, { provider: 'p', message: `m${i}` })
    await engine.park('s3', LATER)
    await engine.unpark('s7')
    before = await engine.pending()
  })
  await withEngine({ stateDir }, async (engine) => {
    await engine.start()
    const after = await engine.pending()
    assert.equal(after.length, 9)
    assert.deepEqual(after, before)
    assert.equal((await engine.get('s3')).attempts, 2)
    assert.equal((await engine.get('s4')).meta.message, 'm4')
  })
})

function readLines (child) {
  const lines = []
  let buf = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
  })
  return lines
}

function exited (child) {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
}

test('a process killed with SIGKILL mid-loop loses no acknowledged park', async () => {
  const stateDir = tmpDir()
  const child = spawn(process.execPath, [FIXTURE, stateDir, 'crash', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = readLines(child)
  const done = exited(child)
  const deadline = Date.now() + 20_000
  while (lines.length < 40 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  child.kill('SIGKILL')
  const { signal } = await done
  assert.equal(signal, 'SIGKILL')
  assert.ok(lines.length >= 40, `the child acknowledged only ${lines.length} keys`)
  await withEngine({ stateDir }, async (engine) => {
    await engine.start()
    const keys = new Set((await engine.pending()).map((e) => e.sessionKey))
    for (const k of lines) assert.ok(keys.has(k), `acknowledged key ${k} was lost`)
  })
})

test('two processes parking concurrently into one stateDir keep every key', async () => {
  const stateDir = tmpDir()
  const children = ['one', 'two'].map((prefix) =>
    spawn(process.execPath, [FIXTURE, stateDir, prefix, '60'], { stdio: ['ignore', 'pipe', 'inherit'] }))
  const outputs = children.map(readLines)
  const results = await Promise.all(children.map(exited))
  assert.deepEqual(results.map((r) => r.code), [0, 0])
  assert.deepEqual(outputs.map((o) => o.length), [60, 60])
  await withEngine({ stateDir }, async (engine) => {
    await engine.start()
    const pending = await engine.pending()
    const keys = new Set(pending.map((e) => e.sessionKey))
    assert.equal(keys.size, 120)
    for (const k of [...outputs[0], ...outputs[1]]) assert.ok(keys.has(k), k)
    assert.equal(pending.length, 120, 'one entry per key')
  })
})

test('a corrupt queue.json is moved aside and its readable entries kept', async () => {
  const stateDir = tmpDir()
  let entries
  await withEngine({ stateDir }, async (engine) => {
    await engine.start()
    for (const k of ['x', 'y', 'z']) await engine.park(k, LATER)
    entries = await engine.pending()
  })
  // A snapshot with two good entries, one unreadable entry, then a torn tail.
  const [x, y, z] = entries
  const good = JSON.stringify({ version: 1, generation: 7, entries: [x, y, { sessionKey: 42 }] }, null, 2)
  const torn = good.slice(0, good.lastIndexOf(']')) + ',\n' + JSON.stringify(z).slice(0, 40)
  fs.writeFileSync(path.join(stateDir, 'queue.json'), torn)
  fs.writeFileSync(path.join(stateDir, 'queue.journal'), JSON.stringify({ op: 'header', version: 1, generation: 7 }) + '\n')

  await withEngine({ stateDir }, async (engine, events) => {
    await engine.start()
    const keys = (await engine.pending()).map((e) => e.sessionKey).sort()
    assert.deepEqual(keys, [x.sessionKey, y.sessionKey].sort())
    await settle()
    const rec = events.filter((e) => e.type === 'recovered_corrupt_file')
    assert.equal(rec.length, 1)
    assert.equal(rec[0].kept, 2)
    assert.ok(rec[0].dropped >= 1)
    assert.ok(fs.existsSync(rec[0].movedTo), rec[0].movedTo)
    assert.ok(fs.readdirSync(stateDir).some((f) => f.startsWith('queue.json.corrupt-')), fs.readdirSync(stateDir).join(','))
    assert.equal(fs.readFileSync(rec[0].movedTo, 'utf8'), torn, 'the damaged bytes are kept')
    // The rewritten snapshot is sound JSON again.
    JSON.parse(fs.readFileSync(path.join(stateDir, 'queue.json'), 'utf8'))
  })
  // And the repair is durable: no second recovery on the next start.
  await withEngine({ stateDir }, async (engine, events) => {
    await engine.start()
    assert.equal((await engine.pending()).length, 2)
    await settle()
    assert.equal(events.filter((e) => e.type === 'recovered_corrupt_file').length, 0)
  })
})

test('queue.importPath imports an old plugin queue.json once', async () => {
  const stateDir = tmpDir()
  const oldDir = tmpDir()
  const importPath = path.join(oldDir, 'queue.json')
  const now = Date.now()
  const old = [
    { sessionKey: 'agent:main:one', errorTime: now - 60_000, retryAfter: now + 3_600_000, errorMessage: '429 rate limit', attempts: 0 },
    { sessionKey: 'agent:main:two', errorTime: now - 30_000, retryAfter: now + 7_200_000, errorMessage: '429 again', attempts: 2 }
  ]
  fs.writeFileSync(importPath, JSON.stringify(old))
  await withEngine({ stateDir, queue: { importPath } }, async (engine, events) => {
    await engine.start()
    const pending = await engine.pending()
    assert.deepEqual(pending.map((e) => e.sessionKey), ['agent:main:one', 'agent:main:two'])
    assert.equal(pending[0].retryAtMs, now + 3_600_000)
    assert.equal(pending[0].firstFailedAtMs, now - 60_000)
    assert.equal(pending[0].attempts, 1)
    assert.equal(pending[1].attempts, 3)
    assert.equal(pending[1].lastError, '429 again')
    assert.equal(pending[0].reason, 'rate_limit')
    await engine.unpark('agent:main:one')
    await settle()
    const imported = events.filter((e) => e.type === 'imported')
    assert.equal(imported.length, 1)
    assert.equal(imported[0].count, 2)
  })
  assert.deepEqual(JSON.parse(fs.readFileSync(importPath, 'utf8')), old, 'the old file is never modified')
  await withEngine({ stateDir, queue: { importPath } }, async (engine, events) => {
    await engine.start()
    assert.deepEqual((await engine.pending()).map((e) => e.sessionKey), ['agent:main:two'], 'not imported again')
    await engine.unpark('agent:main:two')
    await settle()
    assert.equal(events.filter((e) => e.type === 'imported').length, 0)
  })
  await withEngine({ stateDir, queue: { importPath } }, async (engine) => {
    await engine.start()
    assert.deepEqual(await engine.pending(), [], 'an emptied store does not import again')
  })
})

test('state files are mode 0600 and the state dir 0700', async () => {
  const parent = tmpDir()
  const stateDir = path.join(parent, 'nested', 'state')
  await withEngine({ stateDir }, async (engine) => {
    await engine.start()
    await engine.park('s', LATER)
    await engine.pickProfile('openai', ['p1'])
    await engine.markProfile('p1', { status: 429, body: 'rate limited' })
  })
  assert.equal(fs.statSync(stateDir).mode & 0o777, 0o700)
  const files = fs.readdirSync(stateDir)
  assert.ok(files.includes('queue.json') || files.includes('queue.journal'), files.join(','))
  for (const f of files) {
    const st = fs.statSync(path.join(stateDir, f))
    if (st.isFile()) assert.equal(st.mode & 0o777, 0o600, `${f} is ${(st.mode & 0o777).toString(8)}`)
  }
})
