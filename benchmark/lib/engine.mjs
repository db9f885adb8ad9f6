// Loads the built addon (`index.js` at the repo root) and makes throwaway state directories.
import { createRequire } from 'node:module'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/** The `RetryEngine` class of the built addon. */
export function loadRetryEngine() {
  try {
    return require(join(repoRoot, 'index.js')).RetryEngine
  } catch (e) {
    throw new Error(`cannot load the addon (run \`npm run build\` first): ${e.message}`)
  }
}

const made = []

/** A fresh temp directory, removed by `cleanupTempDirs`. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `retry-bench-${prefix}-`))
  made.push(dir)
  return dir
}

export function cleanupTempDirs() {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** The error corpus inside the repository (`__test__/fixtures/corpus/`); `$RETRY_ENGINE_CORPUS` overrides. */
export function corpusPath(file = 'errors.jsonl') {
  const found = process.env.RETRY_ENGINE_CORPUS ?? join(repoRoot, '__test__', 'fixtures', 'corpus', file)
  if (!existsSync(found)) throw new Error(`error corpus not found at ${found}`)
  return found
}
