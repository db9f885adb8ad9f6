// Fleet mode against a real redis-server (unix socket, temp dir): engines in separate processes
// share one provider through `state.redis`. A local HTTP server plays the provider account and
// counts every call. No timing is asserted; lags are printed as figures.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { startRedis, redisAvailable } from './helpers/redis-server.mjs'
import { cleanupFleetDirs, okCalls, sleep, startFleet, startProvider, waitFor } from './helpers/fleet.mjs'

after(cleanupFleetDirs)

const skip = !redisAvailable()

test('3 engines in 3 processes: exactly 1 probe per window, every session resumed once', { skip }, async () => {
  const redis = await startRedis()
  const provider = await startProvider()
  const fleet = await startFleet(redis.url, provider, { a: ['a1', 'a2'], b: ['b1', 'b2'], c: ['c1', 'c2'] })
  try {
    // Window 1: the provider is still down when the sessions fall due.
    await waitFor(() => provider.calls.length >= 1, 'the first probe')
    await sleep(500) // any other engine probing this window would have called by now
    assert.equal(provider.calls.length, 1, JSON.stringify(provider.calls))
    provider.down = false
    // Window 2: one probe succeeds; every engine resends its own sessions once.
    await waitFor(() => okCalls(provider).length === 6, 'all six sessions resumed')
    await sleep(300)
    assert.deepEqual(okCalls(provider), ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'])
    assert.equal(provider.calls.filter((c) => !c.ok).length, 1, 'one call in the down window')
    const probes = fleet.flatMap((e) => e.events).filter((ev) => ev.type === 'resent' && ev.probe)
    assert.equal(probes.length, 1, 'one good probe in the whole fleet')
    const prober = probes[0].engine
    for (const e of fleet) {
      if (e.name !== prober) assert.ok(e.events.some((ev) => ev.type === 'fleet_outcome' && ev.ok), `${e.name} heard the outcome`)
      assert.deepEqual((await e.final()).pending, [], `${e.name} has nothing left`)
    }
    const firstOk = provider.calls.find((c) => c.ok).at
    const lastOk = provider.calls.filter((c) => c.ok).at(-1).at
    console.log(`# fleet: 3 engines, resume lag after the good probe ${lastOk - firstOk} ms`)
  } finally {
    for (const e of fleet) e.child.kill('SIGKILL')
    await provider.close()
    await redis.close()
  }
})

test('kill -9 of the lease holder mid-probe: another engine takes over the probe', { skip }, async () => {
  const redis = await startRedis()
  const provider = await startProvider()
  provider.down = false
  let victim = null
  provider.hold = (call) => {
    if (victim) return false
    victim = call.engine
    return true // the first probe never gets an answer: its engine is killed below
  }
  const fleet = await startFleet(redis.url, provider, { a: ['a1', 'a2'], b: ['b1', 'b2'], c: ['c1', 'c2'] })
  try {
    await waitFor(() => victim !== null, 'the first probe')
    const killed = fleet.find((e) => e.name === victim)
    killed.child.kill('SIGKILL')
    const killedAt = Date.now()
    await waitFor(() => killed.exited, 'the kill')
    const survivors = fleet.filter((e) => e !== killed)
    const theirs = survivors.flatMap((e) => e.keys).sort()
    await waitFor(() => theirs.every((k) => okCalls(provider).includes(k)), 'the survivors resumed')
    await sleep(300)
    assert.deepEqual(okCalls(provider).filter((k) => theirs.includes(k)), theirs, 'each survivor session once')
    const takeover = provider.calls[1]
    assert.notEqual(takeover.engine, victim, 'the second probe came from a survivor')
    for (const e of survivors) assert.deepEqual((await e.final()).pending, [])
    console.log(`# fleet: takeover after kill -9 in ${takeover.at - killedAt} ms (lease TTL 1500 ms)`)
  } finally {
    for (const e of fleet) e.child.kill('SIGKILL')
    await provider.close()
    await redis.close()
  }
})

test('Redis stopped mid-outage: degraded, local decisions, nothing lost, recovery', { skip }, async () => {
  const redis = await startRedis()
  const provider = await startProvider()
  const fleet = await startFleet(redis.url, provider, { a: ['a1', 'a2'], b: ['b1', 'b2'] })
  try {
    await redis.stop()
    await waitFor(() => fleet.every((e) => e.has('state_degraded')), 'state-degraded from both')
    // Each engine now probes for itself (the provider is still down).
    await waitFor(() => new Set(provider.calls.map((c) => c.engine)).size === 2, 'a probe from each engine')
    for (const e of fleet) {
      const degraded = e.events.find((ev) => ev.type === 'state_degraded')
      assert.ok(!degraded.message.includes('password'), degraded.message)
    }
    await redis.restart()
    await waitFor(() => fleet.every((e) => e.has('state_recovered')), 'state-recovered from both')
    provider.down = false
    await waitFor(() => okCalls(provider).length === 4, 'all four sessions resumed')
    await sleep(300)
    assert.deepEqual(okCalls(provider), ['a1', 'a2', 'b1', 'b2'], 'nothing lost, each once')
    for (const e of fleet) {
      assert.equal(e.count('state_degraded'), 1, `${e.name}: one degraded event`)
      assert.deepEqual((await e.final()).pending, [])
    }
  } finally {
    for (const e of fleet) e.child.kill('SIGKILL')
    await provider.close()
    await redis.close()
  }
})

test('plugin config: redisUrl/redisKeyPrefix become state.redis; a bad URL is refused without echoing it', async () => {
  const { parseConfig } = await import('../plugin/dist/config.js')
  const { engineOptions } = await import('../plugin/dist/engine-options.js')
  const none = engineOptions(parseConfig({}), '/var/oc', {}, {})
  assert.equal(none.state, undefined, 'no Redis unless configured')
  const o = engineOptions(parseConfig({ redisUrl: 'rediss://fleet:s3cret@redis.internal:6380/2', redisKeyPrefix: 'team-a:' }), '/var/oc', {}, {})
  assert.deepEqual(o.state, { redis: { url: 'rediss://fleet:s3cret@redis.internal:6380/2', keyPrefix: 'team-a:' } })
  assert.throws(() => parseConfig({ redisUrl: 'http://u:s3cret@h' }), (e) => {
    assert.match(e.message, /`redisUrl`: expected a redis:\/\//)
    assert.ok(!e.message.includes('s3cret'), e.message)
    return true
  })
})

test('engine option state.redis: validated, never echoed, and absent means no Redis at all', async () => {
  const { createRequire } = await import('node:module')
  const { RetryEngine } = createRequire(import.meta.url)('../index.js')
  assert.throws(() => new RetryEngine({ state: { redis: { url: 'http://u:s3cret@h' } } }), (e) => {
    assert.equal(e.code, 'E_INVALID_OPTION')
    assert.match(e.message, /state\.redis\.url/)
    assert.ok(!e.message.includes('s3cret'), e.message)
    return true
  })
  assert.throws(() => new RetryEngine({ state: { redis: {} } }), /state\.redis\.url/)
  assert.throws(() => new RetryEngine({ state: { redis: { url: 'redis://h', leaseTtlMs: 1 } } }), /state\.redis\.leaseTtlMs/)
})

test('auth profiles: a cooldown or disable learned by one engine applies to every engine', { skip }, async () => {
  const { createRequire } = await import('node:module')
  const fs = await import('node:fs')
  const os = await import('node:os')
  const path = await import('node:path')
  const { RetryEngine } = createRequire(import.meta.url)('../index.js')
  const redis = await startRedis()
  const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-fleet-prof-')))
  const [a, b] = dirs.map((stateDir) => new RetryEngine({ stateDir, state: { redis: { url: redis.url, keyPrefix: 'prof-test:' } } }))
  try {
    await a.start()
    await b.start()
    const ids = ['key-1', 'key-2']
    const first = (await a.pickProfile('openai', ids)).profileId
    const second = (await b.pickProfile('openai', ids)).profileId
    assert.notEqual(first, second, 'least-recently-used rotation is fleet-wide')
    const marked = await a.markProfile(first, { status: 429, headers: { 'retry-after': '120' }, body: 'rate limited' })
    assert.equal(marked.rotate, true)
    for (let i = 0; i < 3; i++) assert.equal((await b.pickProfile('openai', ids)).profileId, second, 'B skips the profile A cooled down')
    await b.markProfile(second, { reason: 'billing' })
    const none = await a.pickProfile('openai', ids)
    assert.equal(none.profileId, null, 'A sees B\'s billing disable')
    const listed = await a.profiles('openai')
    assert.deepEqual(listed.map((p) => p.status).sort(), ['cooldown', 'disabled'].sort())
  } finally {
    await a.close()
    await b.close()
    await redis.close()
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  }
})

test('breakers and per-key decisions learned by one engine apply to every engine, and to one that starts later', { skip }, async () => {
  const { createRequire } = await import('node:module')
  const fs = await import('node:fs')
  const os = await import('node:os')
  const path = await import('node:path')
  const { RetryEngine } = createRequire(import.meta.url)('../index.js')
  const redis = await startRedis()
  const dirs = []
  const make = () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-fleet-dec-'))
    dirs.push(stateDir)
    return new RetryEngine({ stateDir, state: { redis: { url: redis.url, keyPrefix: 'dec-test:' } } })
  }
  const [a, b] = [make(), make()]
  let c = null
  try {
    await a.start()
    await b.start()
    await sleep(200) // subscriptions up
    for (let i = 0; i < 5; i++) a.breakerRecord('openai', false)
    assert.equal(a.breakerState('openai').state, 'open')
    await waitFor(() => b.breakerState('openai').state === 'open', 'B sees the open breaker', 10_000)
    assert.equal(b.breakerAcquire('openai').permit, 'rejected', 'B does not call while the fleet breaker is open')
    a.recordFailure('cron:nightly', { status: 402, body: 'billing: insufficient credits' })
    assert.equal(a.state('cron:nightly').disabled, true)
    await waitFor(() => b.state('cron:nightly')?.disabled === true, 'B sees the disabled key', 10_000)
    // An engine that starts later loads what the fleet knows.
    c = make()
    await c.start()
    assert.equal(c.breakerState('openai').state, 'open')
    assert.equal(c.state('cron:nightly')?.disabled, true)
    // A success anywhere clears it everywhere.
    b.recordSuccess('cron:nightly')
    await waitFor(() => a.state('cron:nightly') === null && c.state('cron:nightly') === null, 'the success reaches A and C', 10_000)
  } finally {
    await a.close()
    await b.close()
    if (c) await c.close()
    await redis.close()
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  }
})
