// The resume scheduler with a JS `resend` callback: due-time wakeups, one probe per group,
// spread release under a concurrency limit, failed probes, resolve mode, close mid-flight.
// Timing assertions are only "not before the due time" and generous upper bounds.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const SOON = { status: 429, headers: { 'retry-after': '1' }, body: 'rate limited' }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const dirs = []
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-sched-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

async function waitFor (predicate, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** A resend callback that records every call; `behave(req, index)` returns its promise. */
function recorder (behave = () => undefined) {
  const calls = []
  let inFlight = 0
  const rec = {
    calls,
    maxInFlight: 0,
    resend: async (req) => {
      const call = { req, start: Date.now(), end: null }
      calls.push(call)
      inFlight++
      rec.maxInFlight = Math.max(rec.maxInFlight, inFlight)
      try {
        await behave(req, calls.length - 1)
      } finally {
        inFlight--
        call.end = Date.now()
      }
    }
  }
  return rec
}

async function withEngine (options, fn) {
  const events = []
  const engine = new RetryEngine({ seed: 11, ...options, onEvent: (e) => events.push({ ...e, at: Date.now() }) })
  try {
    await engine.start()
    await fn(engine, events)
  } finally {
    await engine.close()
  }
}

test('an entry due in 1s is resent at its due time, not before, with the resume message', async () => {
  const r = recorder()
  await withEngine({ stateDir: tmpDir(), resend: r.resend }, async (engine, events) => {
    const a = await engine.park('s1', SOON, { provider: 'openai', message: 'please continue', ticket: 7 })
    const b = await engine.park('s2', SOON, { provider: 'anthropic' })
    assert.ok(a.retryAtMs >= Date.now() + 500)
    await waitFor(() => r.calls.length === 2, 'two resends')
    const byKey = Object.fromEntries(r.calls.map((c) => [c.req.sessionKey, c]))
    assert.ok(byKey.s1.start >= a.retryAtMs, `resent ${a.retryAtMs - byKey.s1.start} ms early`)
    assert.ok(byKey.s2.start >= b.retryAtMs, `resent ${b.retryAtMs - byKey.s2.start} ms early`)
    assert.ok(byKey.s1.start <= a.retryAtMs + 3000, 'resent within 3 s of the due time')
    assert.equal(byKey.s1.req.message, 'please continue')
    assert.equal(byKey.s2.req.message, 'Continue where you left off.')
    assert.equal(byKey.s1.req.attempts, 2, 'this is the second send (the original failed)')
    assert.equal(byKey.s1.req.meta.ticket, 7)
    assert.equal(byKey.s1.req.idempotencyKey, 'resume:s1:2')
    assert.notEqual(byKey.s1.req.idempotencyKey, byKey.s2.req.idempotencyKey)
    await waitFor(async () => (await engine.pending()).length === 0, 'queue to empty')
    await sleep(100)
    assert.equal(r.calls.length, 2, 'each sent once')
    const resent = events.filter((e) => e.type === 'resent')
    assert.deepEqual(resent.map((e) => e.sessionKey).sort(), ['s1', 's2'])
  })
})

test('scheduler.resumeMessage replaces the default text', async () => {
  const r = recorder()
  await withEngine({ stateDir: tmpDir(), resend: r.resend, scheduler: { resumeMessage: 'Go on.' } }, async (engine) => {
    await engine.park('s', SOON)
    await waitFor(() => r.calls.length === 1, 'the resend')
    assert.equal(r.calls[0].req.message, 'Go on.')
  })
})

test('20 entries of one group: one probe first, then the other 19 spread under maxConcurrent', async () => {
  const r = recorder((req, i) => sleep(i === 0 ? 400 : 60))
  const options = { stateDir: tmpDir(), resend: r.resend, scheduler: { releaseSpreadMs: 200, maxConcurrent: 3 } }
  await withEngine(options, async (engine, events) => {
    const due = {}
    for (let i = 0; i < 20; i++) {
      const o = await engine.park(`agent:${i}`, SOON, { provider: 'openai' })
      due[`agent:${i}`] = o.retryAtMs
    }
    await waitFor(() => r.calls.length === 20 && r.calls.every((c) => c.end !== null), '20 resends')
    const [probe, ...rest] = r.calls
    for (const c of rest) {
      assert.ok(c.start >= probe.end, 'nothing released before the probe succeeded')
    }
    for (const c of r.calls) assert.ok(c.start >= due[c.req.sessionKey], `${c.req.sessionKey} resent early`)
    assert.equal(new Set(r.calls.map((c) => c.req.sessionKey)).size, 20, 'each session once')
    assert.ok(r.maxInFlight <= 3, `max in flight ${r.maxInFlight}`)
    await waitFor(async () => (await engine.pending()).length === 0, 'queue to empty')
    await sleep(50)
    const probeOk = events.filter((e) => e.type === 'probe_ok')
    assert.equal(probeOk.length, 1)
    assert.equal(probeOk[0].sessionKey, probe.req.sessionKey)
    assert.equal(probeOk[0].group, 'openai')
    assert.equal(probeOk[0].released, 19)
    const resent = events.filter((e) => e.type === 'resent')
    assert.equal(resent.length, 20)
    assert.deepEqual(resent.filter((e) => e.probe).map((e) => e.sessionKey), [probe.req.sessionKey])
  })
})

test('groups probe independently', async () => {
  const r = recorder(() => sleep(300))
  await withEngine({ stateDir: tmpDir(), resend: r.resend, scheduler: { releaseSpreadMs: 0 } }, async (engine) => {
    for (const g of ['a', 'b', 'c']) {
      for (let i = 0; i < 2; i++) await engine.park(`${g}${i}`, SOON, { group: g })
    }
    await waitFor(() => r.calls.length >= 3, 'three probes')
    // The first three calls are one probe per group.
    assert.deepEqual(r.calls.slice(0, 3).map((c) => c.req.meta.group).sort(), ['a', 'b', 'c'])
    await waitFor(() => r.calls.length === 6, 'all six')
  })
})

test('a probe whose resend rejects: probe-failed, the group re-parked later, nothing else sent', async () => {
  const r = recorder(() => { throw new Error('upstream still limited') })
  await withEngine({ stateDir: tmpDir(), resend: r.resend }, async (engine, events) => {
    const before = {}
    for (let i = 0; i < 5; i++) before[`k${i}`] = (await engine.park(`k${i}`, SOON, { provider: 'gemini' })).retryAtMs
    await waitFor(() => events.some((e) => e.type === 'probe_failed'), 'probe_failed')
    const failed = events.find((e) => e.type === 'probe_failed')
    await sleep(500)
    assert.equal(r.calls.length, 1, 'only the probe was sent')
    assert.equal(failed.sessionKey, r.calls[0].req.sessionKey)
    assert.equal(failed.group, 'gemini')
    assert.equal(failed.reparked, 5)
    assert.ok(failed.retryAtMs > failed.at + 30_000, `re-probe at +${failed.retryAtMs - failed.at} ms`)
    const pending = await engine.pending()
    assert.equal(pending.length, 5, 'nobody lost')
    for (const e of pending) {
      assert.equal(e.status, 'parked')
      assert.ok(e.retryAtMs > before[e.sessionKey], `${e.sessionKey} not moved later`)
      assert.ok(e.retryAtMs >= failed.retryAtMs - 1, `${e.sessionKey} due before the re-probe`)
    }
    const probeEntry = pending.find((e) => e.sessionKey === failed.sessionKey)
    assert.equal(probeEntry.attempts, 2, 'the failed probe counts an attempt')
  })
})

test('resolve mode: nothing else is released until resolve(probeKey)', async () => {
  const r = recorder()
  const options = { stateDir: tmpDir(), resend: r.resend, scheduler: { confirm: 'resolve', probeTimeoutMs: 30_000, releaseSpreadMs: 100 } }
  await withEngine(options, async (engine, events) => {
    for (let i = 0; i < 4; i++) await engine.park(`r${i}`, SOON, { provider: 'openai' })
    await waitFor(() => r.calls.length === 1, 'the probe')
    const probeKey = r.calls[0].req.sessionKey
    await sleep(800)
    assert.equal(r.calls.length, 1, 'the ack alone does not confirm the probe')
    assert.equal((await engine.pending()).length, 4)
    assert.notEqual((await engine.get(probeKey)).status, 'parked')
    // Our own resend's run (its runId is the idempotency key on the real gateway) confirms it.
    assert.equal(await engine.resolve(probeKey, { runId: r.calls[0].req.idempotencyKey }), true)
    await waitFor(() => r.calls.length === 4, 'the release')
    assert.equal(new Set(r.calls.map((c) => c.req.sessionKey)).size, 4)
    await waitFor(async () => (await engine.get(probeKey)) === null, 'the probe entry to leave')
    // Released entries wait for their own result.
    const rest = await engine.pending()
    assert.equal(rest.length, 3)
    for (const e of rest) assert.equal(e.status, 'awaiting_result')
    for (const e of rest) await engine.resolve(e.sessionKey)
    await waitFor(async () => (await engine.pending()).length === 0, 'all resolved')
    await sleep(50)
    assert.equal(events.filter((e) => e.type === 'probe_ok').length, 1)
  })
})

test('resolve mode: a success that is not our resend resolves the probe but releases nothing', async () => {
  const r = recorder()
  const options = { stateDir: tmpDir(), resend: r.resend, scheduler: { confirm: 'resolve', probeTimeoutMs: 30_000, releaseSpreadMs: 100 } }
  await withEngine(options, async (engine, events) => {
    for (let i = 0; i < 3; i++) await engine.park(`u${i}`, SOON, { provider: 'openai' })
    await waitFor(() => r.calls.length === 1, 'the probe')
    const probeKey = r.calls[0].req.sessionKey
    assert.equal(await engine.resolve(probeKey, { runId: 'the-gateway-s-own-retry' }), true)
    assert.equal(await engine.get(probeKey), null, 'resolved at once, durably')
    await waitFor(() => r.calls.length === 2, 'the next probe')
    await sleep(300)
    assert.equal(r.calls.length, 2, 'one new probe, no release')
    assert.notEqual(r.calls[1].req.sessionKey, probeKey)
    assert.equal(events.filter((e) => e.type === 'probe-ok').length, 0)
  })
})

test('close() while resends are in flight returns and nothing is lost', async () => {
  const stateDir = tmpDir()
  const r = recorder(() => new Promise(() => {})) // never answers
  const keys = []
  const engine = new RetryEngine({ stateDir, seed: 2, resend: r.resend, scheduler: { maxConcurrent: 3 } })
  try {
    await engine.start()
    for (let i = 0; i < 6; i++) {
      keys.push(`c${i}`)
      await engine.park(`c${i}`, SOON, { group: `g${i}` })
    }
    await waitFor(() => r.calls.length === 3, 'three resends in flight')
  } finally {
    const closed = await Promise.race([engine.close().then(() => 'closed'), sleep(10_000).then(() => 'hung')])
    assert.equal(closed, 'closed')
  }
  const again = recorder(() => new Promise(() => {}))
  const second = new RetryEngine({ stateDir, resend: again.resend })
  try {
    await second.start()
    const pending = await second.pending()
    assert.deepEqual(pending.map((e) => e.sessionKey).sort(), keys)
  } finally {
    await second.close()
  }
})
