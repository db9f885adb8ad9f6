// Shared setup of the engine test files: an engine class whose instances are all closed after
// the file, and temporary state dirs removed after it (in that order).
import { after } from 'node:test'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const { RetryEngine: Engine } = createRequire(import.meta.url)('../../index.js')

// A started engine keeps Node alive until close(): close every engine after the file, so a
// failed assertion cannot leave one holding the test process.
const engines = []
export class RetryEngine extends Engine {
  constructor (options) {
    super(options)
    engines.push(this)
  }
}
after(async () => {
  await Promise.all(engines.map((e) => e.close({ timeoutMs: 0 }).catch(() => {})))
})

const dirs = []
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** A maker of fresh temporary dirs named `retry-engine-<name>-…`, removed after the file. */
export const tmpDirs = (name) => () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `retry-engine-${name}-`))
  dirs.push(dir)
  return dir
}
