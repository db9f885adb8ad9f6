// Writes openclaw.plugin.json at the package root from plugin/dist/manifest.js (run by
// `npm run build:plugin` after tsc). `--check` exits 1 when the committed file differs.
import { readFileSync, writeFileSync } from 'node:fs'
import { manifest } from '../dist/manifest.js'

const path = new URL('../../openclaw.plugin.json', import.meta.url)
const text = `${JSON.stringify(manifest(), null, 2)}\n`
if (process.argv.includes('--check')) {
  if (readFileSync(path, 'utf8') !== text) {
    console.error('openclaw.plugin.json is not what `npm run build:plugin` generates')
    process.exit(1)
  }
} else {
  writeFileSync(path, text)
}
