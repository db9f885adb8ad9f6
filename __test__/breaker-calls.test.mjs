// The breaker's two hot calls: each instance's own fast `breakerAcquire` / `breakerRecord`
// behave like the prototype methods, and the `allowed` / `probe` permits are shared frozen
// objects.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0)

async function withEngine (options, fn) {
  const engine = new RetryEngine({ seed: 3, ...options })
  try {
    await fn(engine)
  } finally {
    await engine.close()
  }
}

test('each instance has its own non-enumerable breakerAcquire / breakerRecord', async () => {
  await withEngine({}, (engine) => {
    for (const name of ['breakerAcquire', 'breakerRecord']) {
      const d = Object.getOwnPropertyDescriptor(engine, name)
      assert.ok(d, `${name} is an own property`)
      assert.equal(typeof d.value, 'function')
      assert.equal(d.enumerable, false, 'not listed by Object.keys, like a method')
      assert.notEqual(d.value, RetryEngine.prototype[name])
    }
    assert.deepEqual(Object.keys(engine).filter((k) => k.startsWith('breaker')), [])
    assert.equal(engine.breakerAcquire.name, 'breakerAcquire')
    assert.equal(engine.breakerRecord.name, 'breakerRecord')
  })
})

test('allowed and probe are shared frozen permits; rejected is a fresh object with retryAtMs', async () => {
  await withEngine({ breaker: { failureThreshold: 1, cooldownMs: 1000 } }, (engine) => {
    const a = engine.breakerAcquire('p', T0)
    assert.deepEqual(a, { permit: 'allowed' })
    assert.equal(engine.breakerAcquire('q', T0), a, 'the same object every time')
    assert.ok(Object.isFrozen(a))
    assert.throws(() => { 'use strict'; a.permit = 'rejected' }, TypeError)
    assert.equal(engine.breakerAcquire('p', T0).permit, 'allowed')

    engine.breakerRecord('p', false, T0)
    const r1 = engine.breakerAcquire('p', T0 + 1)
    const r2 = engine.breakerAcquire('p', T0 + 2)
    assert.deepEqual(r1, { permit: 'rejected', retryAtMs: T0 + 1000 })
    assert.notEqual(r1, r2, 'a rejected permit is a new object')
    assert.ok(!Object.isFrozen(r1))

    const probe = engine.breakerAcquire('p', T0 + 1000)
    assert.deepEqual(probe, { permit: 'probe' })
    assert.ok(Object.isFrozen(probe))
    engine.breakerRecord('p', false, T0 + 1000)
    assert.equal(engine.breakerAcquire('p', T0 + 3000), probe, 'the same probe object')
  })
})

test('the own functions and the prototype methods share one breaker and one behaviour', async () => {
  await withEngine({ breaker: { failureThreshold: 2, cooldownMs: 1000 } }, (engine) => {
    const proto = RetryEngine.prototype
    proto.breakerRecord.call(engine, 'k', false, T0)
    engine.breakerRecord('k', false, T0 + 1)
    assert.equal(engine.breakerState('k', T0 + 2).state, 'open')
    const viaProto = proto.breakerAcquire.call(engine, 'k', T0 + 3)
    const viaOwn = engine.breakerAcquire('k', T0 + 3)
    assert.deepEqual(viaProto, viaOwn)
    assert.deepEqual(viaOwn, { permit: 'rejected', retryAtMs: T0 + 1001 })
    // Detached, the own function still knows its engine.
    const { breakerAcquire, breakerRecord } = engine
    assert.deepEqual(breakerAcquire('k', T0 + 1001), { permit: 'probe' })
    breakerRecord('k', true, T0 + 1002)
    assert.equal(engine.breakerState('k', T0 + 1003).state, 'closed')
    // A long key (past the stack buffer) takes the general path, same answers.
    const long = 'x'.repeat(600)
    assert.deepEqual(engine.breakerAcquire(long, T0), { permit: 'allowed' })
    engine.breakerRecord(long, false, T0)
    engine.breakerRecord(long, false, T0)
    assert.equal(engine.breakerAcquire(long, T0 + 1).permit, 'rejected')
  })
})

test('the own functions throw the same coded errors as the prototype methods', async () => {
  await withEngine({}, (engine) => {
    const calls = [
      ['breakerAcquire', [42]],
      ['breakerAcquire', ['']],
      ['breakerAcquire', ['k', -1]],
      ['breakerAcquire', ['k', 'soon']],
      ['breakerAcquire', ['x'.repeat(2000)]],
      ['breakerRecord', ['k']],
      ['breakerRecord', ['k', 'yes']],
      ['breakerRecord', [undefined, true]],
      ['breakerRecord', ['k', true, Infinity]],
    ]
    for (const [name, args] of calls) {
      let own, viaProto
      try { engine[name](...args) } catch (e) { own = e }
      try { RetryEngine.prototype[name].call(engine, ...args) } catch (e) { viaProto = e }
      assert.ok(own instanceof Error, `${name}(${args}) throws`)
      assert.equal(own.code, 'E_INVALID_INPUT', `${name}(${args})`)
      assert.equal(own.message, viaProto.message, `${name}(${args})`)
    }
  })
})
