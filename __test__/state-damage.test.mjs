// The corruption matrix: every state file (queue, decisions, profiles; snapshot and journal)
// damaged in every way we know (truncated, a flipped byte, a garbage line, a NUL tail, a huge
// file, a directory, a symlink in or out of the dir, a wrong mode, a wrong owner). Every
// readable record survives, the event says exactly how many were kept and dropped, and
// nothing is ever read or written through a link.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const LATER = { status: 429, headers: { 'retry-after': '3600' }, body: 'rate limited' }
const BILLING = { status: 402, body: 'Your credit balance is too low to access the Anthropic API.' }
const dirs = []
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-damage-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

async function run (stateDir, fn) {
  const events = []
  const engine = new RetryEngine({
    stateDir,
    seed: 3,
    resend: async () => {},
    queue: { compactMinRecords: 1 },
    onEvent: (e) => events.push(e)
  })
  try {
    await fn(engine, events)
  } finally {
    await engine.close()
  }
  return events
}

// queue.json: 5 entries, queue.journal: 3; decisions.json: 14 records (4 breakers, 2 cron
// keys, the 8 parked sessions' policy keys), decisions.journal: 3; profiles.json: 5 profiles.
async function populated () {
  const dir = tmpDir()
  await run(dir, async (e) => {
    await e.start()
    for (let round = 0; round < 2; round++) for (let i = 1; i <= 5; i++) await e.park(`s${i}`, LATER)
    await e.park('s1', LATER) // the 11th journal record: compacted into queue.json
    for (let i = 6; i <= 8; i++) await e.park(`s${i}`, LATER)
    for (let i = 1; i <= 4; i++) for (let n = 0; n < 5; n++) e.breakerRecord(`b${i}`, false)
    e.recordFailure('cron:1', BILLING)
    e.recordFailure('cron:2', BILLING)
    for (let i = 1; i <= 5; i++) await e.registerProfile(`p${i}`, 'openai')
  })
  await run(dir, async (e) => {
    // decided before start(): written once each, in one batch, after start() folded
    // decisions.journal into decisions.json
    for (let i = 5; i <= 7; i++) for (let n = 0; n < 5; n++) e.breakerRecord(`b${i}`, false)
    await e.start()
  })
  const lines = (f) => fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').length
  assert.deepEqual(
    ['queue.json', 'queue.journal', 'decisions.json', 'decisions.journal', 'profiles.json'].map(lines),
    [6, 4, 15, 4, 6],
    'a header line plus the records of each file'
  )
  return dir
}

async function counts (dir) {
  let out
  const events = await run(dir, async (e) => {
    await e.start()
    const s = e.exportState()
    out = {
      queue: (await e.pending()).length,
      decisions: Object.keys(s.policy).length + Object.keys(s.breakers).length,
      profiles: (await e.profiles()).length
    }
  })
  out.recovered = events
    .filter((e) => e.type === 'recovered_corrupt_file')
    .map((e) => [path.basename(e.path), e.kept, e.dropped])
  return out
}

const FULL = { queue: 8, decisions: 17, profiles: 5 }
const STORE = { 'queue.json': 'queue', 'queue.journal': 'queue', 'decisions.json': 'decisions', 'decisions.journal': 'decisions', 'profiles.json': 'profiles' }
// records in each file (header excluded)
const RECORDS = { 'queue.json': 5, 'queue.journal': 3, 'decisions.json': 14, 'decisions.journal': 3, 'profiles.json': 5 }
const JOURNAL = (f) => f.endsWith('.journal')

function cutLastLine (text) {
  return text.slice(0, text.length - Math.floor(text.trim().split('\n').pop().length / 2) - 1)
}

function flipInLine (text, n) {
  const lines = text.split('\n')
  const line = Buffer.from(lines[n])
  line[Math.floor(line.length / 2)] ^= 0x01
  lines[n] = line.toString('latin1')
  return lines.join('\n')
}

const DAMAGE = {
  // a torn last line: in a journal an unacknowledged write (trimmed, no event), in a snapshot
  // the loss of one record
  truncate: (t) => cutLastLine(t),
  flip: (t) => flipInLine(t, 2),
  garbage: (t) => t.replace('\n', '\n{"op":"put","entry":garbage}\n'),
  'nul tail': (t) => t + '\0'.repeat(4096),
  huge: (t) => t + ('x'.repeat(1023) + '\n').repeat(5000)
}

function expected (file, kind) {
  const n = RECORDS[file]
  const store = STORE[file]
  const lost = { truncate: 1, flip: 1, garbage: 0, 'nul tail': 0, huge: 0 }[kind]
  const dropped = { truncate: 1, flip: 1, garbage: 1, 'nul tail': 1, huge: 5000 }[kind]
  const torn = JOURNAL(file) && (kind === 'truncate' || kind === 'nul tail')
  return {
    ...FULL,
    [store]: FULL[store] - lost,
    recovered: torn ? [] : [[file, n - lost, dropped]]
  }
}

for (const file of Object.keys(STORE)) {
  for (const kind of Object.keys(DAMAGE)) {
    test(`${file}: ${kind} keeps every readable record and says exactly how many`, async () => {
      const dir = await populated()
      const p = path.join(dir, file)
      const before = fs.readFileSync(p, 'latin1')
      const damaged = DAMAGE[kind](before)
      fs.writeFileSync(p, damaged, 'latin1')
      assert.deepEqual(await counts(dir), expected(file, kind))
      const aside = fs.readdirSync(dir).filter((f) => f.startsWith(`${file}.corrupt-`))
      assert.equal(aside.length, expected(file, kind).recovered.length, 'the damaged file is kept aside')
      for (const f of aside) assert.equal(fs.readFileSync(path.join(dir, f), 'latin1'), damaged)
      // repaired for good: the next start finds nothing to report and loses nothing
      assert.deepEqual(await counts(dir), { ...expected(file, kind), recovered: [] })
    })
  }

  test(`${file}: a directory, a symlink in or out, a wrong mode or owner`, async () => {
    const dir = await populated()
    const p = path.join(dir, file)
    const original = fs.readFileSync(p)
    const refused = async (why) => {
      const e = new RetryEngine({ stateDir: dir, resend: async () => {} })
      await assert.rejects(e.start(), (err) => err.code === 'E_IO' && why.test(err.message), why.toString())
      await e.close()
    }

    fs.rmSync(p)
    fs.mkdirSync(p)
    await refused(/not a regular file/)
    fs.rmdirSync(p)

    const outside = path.join(tmpDir(), 'elsewhere')
    fs.writeFileSync(outside, original)
    fs.symlinkSync(outside, p)
    await refused(/symbolic link/)
    assert.deepEqual(fs.readFileSync(outside), original, 'nothing written through the link')
    fs.rmSync(p)

    fs.writeFileSync(path.join(dir, 'copy'), original)
    fs.symlinkSync('copy', p)
    await refused(/symbolic link/)
    fs.rmSync(p)
    fs.symlinkSync(path.join(dir, 'missing'), p)
    await refused(/symbolic link/)
    assert.equal(fs.existsSync(path.join(dir, 'missing')), false, 'a dangling link creates nothing')
    fs.rmSync(p)

    fs.writeFileSync(p, original, { mode: 0o644 })
    fs.chmodSync(p, 0o644)
    assert.deepEqual(await counts(dir), { ...FULL, recovered: [] })
    assert.equal(fs.statSync(p).mode & 0o777, 0o600, 'tightened to 0600')

    if (process.getuid() === 0) {
      fs.chownSync(p, 4242, 4242)
      await refused(/belongs to uid 4242/)
      fs.chownSync(p, 0, 0)
    }
    assert.deepEqual(await counts(dir), { ...FULL, recovered: [] })
  })
}

test('the state dir: writable by others or foreign-owned is refused, 0755 tightened, dead temp files removed', async () => {
  const dir = await populated()
  fs.chmodSync(dir, 0o777)
  const e = new RetryEngine({ stateDir: dir, resend: async () => {} })
  await assert.rejects(e.start(), (err) => err.code === 'E_IO' && /chmod 700/.test(err.message))
  await e.close()
  fs.chmodSync(dir, 0o755)
  const stale = path.join(dir, '.queue.json.tmp-999999999')
  fs.writeFileSync(stale, 'x'.repeat(1 << 20))
  assert.deepEqual(await counts(dir), { ...FULL, recovered: [] })
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700)
  assert.equal(fs.existsSync(stale), false, 'the temp file of a dead process is gone')
  if (process.getuid() === 0) {
    fs.chownSync(dir, 4242, 4242)
    const f = new RetryEngine({ stateDir: dir, resend: async () => {} })
    await assert.rejects(f.start(), (err) => err.code === 'E_IO' && /belongs to uid 4242/.test(err.message))
    await f.close()
    fs.chownSync(dir, 0, 0)
  }
})
