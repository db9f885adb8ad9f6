// Hostile JS values (cycles, depth 100k, sparse arrays, Proxies with throwing traps, Symbols,
// BigInt, functions, 50 MB strings...) at every argument of every method and the constructor, in
// a child process: no crash, no hang (a generous wall-clock kill, not a speed assertion), every
// error an Error with a documented err.code, async methods never throw synchronously.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const child = fileURLToPath(new URL('./fixtures/hostile-child.mjs', import.meta.url))

test('no hostile value crashes or hangs any method, and every error is coded', () => {
  const r = spawnSync(process.execPath, ['--max-old-space-size=2048', child], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  assert.equal(r.signal, null, `child killed by ${r.signal} (crash or hang); stderr: ${r.stderr.slice(-2000)}`)
  assert.equal(r.status, 0, `child exit ${r.status}; stderr: ${r.stderr.slice(-2000)}`)
  const report = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.ok(report.calls > 3000, `only ${report.calls} calls made`)
  assert.deepEqual(report.syncThrowsFromAsync, [], 'async methods threw synchronously')
  assert.deepEqual(report.uncoded, [], 'errors without a documented code')
  assert.deepEqual(report.nonErrors, [], 'thrown values that are not Errors')
  assert.equal(report.stillWorks, true, 'the engine stopped answering')
})
