// nextReset(): fixed budget windows (LiteLLM semantics) at concrete UTC dates.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const { RetryEngine } = createRequire(import.meta.url)('../index.js')

const utc = (s) => Date.parse(s)
const engine = new RetryEngine({ policy: { resetMarginMs: 0 } })
const withMargin = new RetryEngine() // default margin 250 ms
after(async () => {
  await engine.close()
  await withMargin.close()
})

test('30s: next multiple of 30 seconds in the minute', () => {
  assert.equal(engine.nextReset('30s', utc('2026-03-10T10:00:40Z')), utc('2026-03-10T10:01:00Z'))
  assert.equal(engine.nextReset('30s', utc('2026-03-10T10:00:10.500Z')), utc('2026-03-10T10:00:30Z'))
})

test('5m: next multiple of 5 minutes in the hour', () => {
  assert.equal(engine.nextReset('5m', utc('2026-03-10T10:07:00Z')), utc('2026-03-10T10:10:00Z'))
  assert.equal(engine.nextReset('5m', utc('2026-03-10T10:57:59Z')), utc('2026-03-10T11:00:00Z'))
})

test('5h: next hour-of-day multiple of 5, across midnight', () => {
  assert.equal(engine.nextReset('5h', utc('2026-03-10T12:30:00Z')), utc('2026-03-10T15:00:00Z'))
  assert.equal(engine.nextReset('5h', utc('2026-03-10T22:10:00Z')), utc('2026-03-11T01:00:00Z'))
})

test('1d: next UTC midnight, strictly after now', () => {
  assert.equal(engine.nextReset('1d', utc('2026-03-10T15:00:00Z')), utc('2026-03-11T00:00:00Z'))
  assert.equal(engine.nextReset('1d', utc('2026-03-11T00:00:00Z')), utc('2026-03-12T00:00:00Z'))
  assert.equal(engine.nextReset('1d', utc('2026-12-31T23:59:59Z')), utc('2027-01-01T00:00:00Z'))
})

test('7d: next Monday midnight (a Monday goes to the following one)', () => {
  // 2026-03-11 is a Wednesday, 2026-03-16 a Monday.
  assert.equal(engine.nextReset('7d', utc('2026-03-11T09:00:00Z')), utc('2026-03-16T00:00:00Z'))
  assert.equal(engine.nextReset('7d', utc('2026-03-16T09:00:00Z')), utc('2026-03-23T00:00:00Z'))
  assert.equal(engine.nextReset('7d', utc('2026-03-15T23:59:00Z')), utc('2026-03-16T00:00:00Z'))
})

test('30d and 1mo: the 1st of next month', () => {
  assert.equal(engine.nextReset('30d', utc('2026-02-14T08:00:00Z')), utc('2026-03-01T00:00:00Z'))
  assert.equal(engine.nextReset('1mo', utc('2026-01-31T23:00:00Z')), utc('2026-02-01T00:00:00Z'))
  assert.equal(engine.nextReset('1mo', utc('2026-12-15T00:00:00Z')), utc('2027-01-01T00:00:00Z'))
  assert.equal(engine.nextReset('30d', utc('2026-12-01T00:00:00Z')), utc('2027-01-01T00:00:00Z'))
})

test('utcOffsetMinutes moves the calendar', () => {
  // UTC-5: 03:00Z on the 10th is 22:00 on the 9th locally; local midnight is 05:00Z.
  assert.equal(engine.nextReset('1d', utc('2026-03-10T03:00:00Z'), { utcOffsetMinutes: -300 }), utc('2026-03-10T05:00:00Z'))
  // UTC+5:30: 20:00Z on the 10th is 01:30 on the 11th locally; next local midnight is 18:30Z on the 11th.
  assert.equal(engine.nextReset('1d', utc('2026-03-10T20:00:00Z'), { utcOffsetMinutes: 330 }), utc('2026-03-11T18:30:00Z'))
  // 1mo in UTC+2: 22:30Z on Jan 31 is already Feb 1 locally -> Mar 1 local midnight = Feb 28 22:00Z.
  assert.equal(engine.nextReset('1mo', utc('2026-01-31T22:30:00Z'), { utcOffsetMinutes: 120 }), utc('2026-02-28T22:00:00Z'))
})

test('policy.utcOffsetMinutes is the default offset', async () => {
  const tz = new RetryEngine({ policy: { utcOffsetMinutes: -300, resetMarginMs: 0 } })
  try {
    assert.equal(tz.nextReset('1d', utc('2026-03-10T03:00:00Z')), utc('2026-03-10T05:00:00Z'))
    assert.equal(tz.nextReset('1d', utc('2026-03-10T03:00:00Z'), { utcOffsetMinutes: 0 }), utc('2026-03-11T00:00:00Z'))
  } finally {
    await tz.close()
  }
})

test('the reset margin is added (default 250 ms, configurable)', async () => {
  assert.equal(withMargin.nextReset('1d', utc('2026-03-10T15:00:00Z')), utc('2026-03-11T00:00:00Z') + 250)
  const m = new RetryEngine({ policy: { resetMarginMs: 5000 } })
  try {
    assert.equal(m.nextReset('5h', utc('2026-03-10T12:30:00Z')), utc('2026-03-10T15:00:05Z'))
  } finally {
    await m.close()
  }
})

test('explicitResetMs beats the computed reset (plus the margin)', () => {
  const explicit = utc('2026-03-10T16:42:17Z')
  assert.equal(engine.nextReset('1d', utc('2026-03-10T15:00:00Z'), { explicitResetMs: explicit }), explicit)
  assert.equal(withMargin.nextReset('1d', utc('2026-03-10T15:00:00Z'), { explicitResetMs: explicit }), explicit + 250)
  assert.equal(engine.nextReset('5m', utc('2026-03-10T15:00:00Z'), { explicitResetMs: explicit, utcOffsetMinutes: 60 }), explicit)
})

test('without nowMs the current time is used', () => {
  const now = Date.now()
  const r = engine.nextReset('30s')
  assert.ok(r > now && r <= Date.now() + 30_000)
})

test('bad windows and offsets throw E_INVALID_INPUT', () => {
  for (const w of ['', '5', 'h', '0d', '5x', '-1d']) {
    assert.throws(() => engine.nextReset(w, utc('2026-03-10T15:00:00Z')), (e) => e.code === 'E_INVALID_INPUT', w)
  }
  assert.throws(() => engine.nextReset('1d', utc('2026-03-10T15:00:00Z'), { utcOffsetMinutes: 900 }), { code: 'E_INVALID_INPUT' })
  assert.throws(() => engine.nextReset('1d', utc('2026-03-10T15:00:00Z'), { utcOffsetMinutes: 'x' }), { code: 'E_INVALID_INPUT' })
  assert.throws(() => engine.nextReset('1d', Number.NaN), { code: 'E_INVALID_INPUT' })
  assert.equal(engine.nextReset('1d', utc('2026-03-10T15:00:00Z')), utc('2026-03-11T00:00:00Z'))
})
