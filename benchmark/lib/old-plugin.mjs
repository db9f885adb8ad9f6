// Loads the old plugin, `@cheapestinference/openclaw-ratelimit-retry`, as it ships: TypeScript
// source only (no dist), so its src/service.ts is transpiled with `typescript` (types erased,
// nothing else changed) and imported from a temp file.
//
// Two edits, both checked to have applied, expose what the benchmark measures:
// - `export { saveQueue, addToQueue, loadQueue }` is appended (the plugin keeps them private);
// - `MAX_QUEUE_SIZE = 100` becomes a parameter: the plugin silently drops the oldest entries past
//   100, so it cannot hold 10k or 100k parked sessions at all. The size benchmark lifts the cap
//   to compare the cost of its persistence approach (rewrite all of queue.json per change).
import { createRequire } from 'node:module'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)
export const OLD_PLUGIN = '@cheapestinference/openclaw-ratelimit-retry'

export async function loadOldPlugin() {
  const ts = require('typescript')
  const pkgJson = require.resolve(`${OLD_PLUGIN}/package.json`)
  const version = JSON.parse(readFileSync(pkgJson, 'utf8')).version
  const srcPath = join(pkgJson, '..', 'src', 'service.ts')
  const source = readFileSync(srcPath, 'utf8')
  const capLine = 'const MAX_QUEUE_SIZE = 100;'
  if (!source.includes(capLine)) throw new Error(`${srcPath}: expected "${capLine}"`)
  const patched =
    source.replace(capLine, 'let MAX_QUEUE_SIZE = 100;') +
    '\nexport { saveQueue, addToQueue, loadQueue };\n' +
    'export function setMaxQueueSize(n: number) { MAX_QUEUE_SIZE = n; }\n'
  const js = ts.transpileModule(patched, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: 'service.ts',
  }).outputText
  const dir = mkdtempSync(join(tmpdir(), 'old-plugin-'))
  const file = join(dir, 'service.mjs')
  writeFileSync(file, js)
  const mod = await import(pathToFileURL(file).href)
  for (const name of ['isRetriableError', 'saveQueue', 'addToQueue', 'setMaxQueueSize']) {
    if (typeof mod[name] !== 'function') throw new Error(`old plugin: ${name} not found`)
  }
  return { ...mod, version }
}
