// Timing, memory and formatting helpers shared by the benchmark sections.
import v8 from 'node:v8'
import vm from 'node:vm'

v8.setFlagsFromString('--expose-gc')
const gcFn = vm.runInNewContext('gc')

/** Run a full garbage collection (twice, so finalizers of native objects get to run). */
export async function gc() {
  gcFn()
  await new Promise((r) => setImmediate(r))
  gcFn()
}

/** Resident set size of the whole process, bytes. */
export const rss = () => process.memoryUsage.rss()

/**
 * Ops/s of a synchronous `fn(i)`: warm up, then run batches until `ms` have passed.
 * Returns `{ops, ms, rate}` over the timed part only.
 */
export function timeSync(fn, { ms = 1000, warmup = 200 } = {}) {
  for (let i = 0; i < warmup; i++) fn(i)
  let ops = 0
  let batch = 64
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) fn(ops + i)
    ops += batch
    elapsed = performance.now() - start
    if (elapsed < ms / 20) batch *= 2
  }
  return { ops, ms: elapsed, rate: (ops * 1000) / elapsed }
}

/** Like `timeSync` for an async `fn(i)`, awaited one call at a time. */
export async function timeAsync(fn, { ms = 1000, warmup = 100 } = {}) {
  for (let i = 0; i < warmup; i++) await fn(i)
  let ops = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    await fn(ops++)
    if ((ops & 63) === 0) elapsed = performance.now() - start
  }
  elapsed = performance.now() - start
  return { ops, ms: elapsed, rate: (ops * 1000) / elapsed }
}

/**
 * Run `fn(i)` for i in [0, count) with at most `inFlight` calls pending, stopping early once
 * `maxMs` have passed (at least `minOps` calls are made). Returns `{ops, ms, rate}`.
 */
export async function timeBounded(fn, { count, inFlight = 1, maxMs = Infinity, minOps = 1 }) {
  let next = 0
  let done = 0
  const start = performance.now()
  const worker = async () => {
    while (next < count) {
      if (next >= minOps && performance.now() - start > maxMs) return
      const i = next++
      await fn(i)
      done++
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const ms = performance.now() - start
  return { ops: done, ms, rate: (done * 1000) / ms }
}

const scaled = (n, units) => {
  for (const [div, suffix] of units) if (Math.abs(n) >= div) return `${(n / div).toPrecision(3)}${suffix}`
  return `${n.toPrecision(3)}`
}

/** `1.23M ops/s`. */
export const fmtRate = (r) => `${scaled(r, [[1e6, 'M'], [1e3, 'k'], [1, '']])} ops/s`

/** A duration given in ms, printed in the most readable unit. */
export function fmtMs(ms) {
  if (ms >= 1000) return `${(ms / 1000).toPrecision(3)} s`
  if (ms >= 1) return `${ms.toPrecision(3)} ms`
  if (ms >= 0.001) return `${(ms * 1000).toPrecision(3)} µs`
  return `${(ms * 1e6).toPrecision(3)} ns`
}

/** `12.3 MB` (MiB; signed when `signed`). */
export function fmtBytes(b, signed = false) {
  const s = `${(b / 2 ** 20).toFixed(1)} MB`
  return signed && b >= 0 ? `+${s}` : s
}

/** `how many times better ours is`: `12.3×`, given two figures where larger is better. */
export function ratio(ours, theirs) {
  if (!(theirs > 0) || !Number.isFinite(ours)) return 'n/a'
  const x = ours / theirs
  return `${x >= 100 ? x.toFixed(0) : x.toPrecision(3)}×`
}

export const fmtCount = (n) => n.toLocaleString('en-US')
