// `npm run build:plugin`: compiles plugin/src to plugin/dist against the REAL OpenClaw plugin
// SDK types (`openclaw/plugin-sdk/*` of the openclaw that `node
// scripts/setup-openclaw.mjs` installed; the package does not depend on openclaw at runtime:
// the gateway provides the SDK to the plugins it loads), then writes openclaw.plugin.json.
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { layout } from '../../scripts/setup-openclaw.mjs'

const pluginDir = fileURLToPath(new URL('..', import.meta.url))
const sdkDir = join(layout().openclawDir, 'dist', 'plugin-sdk')
const sdk = join(sdkDir, 'plugin-entry.d.ts')
if (!existsSync(sdk)) {
  console.error(`build:plugin: ${sdk} not found; run \`node scripts/setup-openclaw.mjs\` first (or set OPENCLAW_E2E_CACHE)`)
  process.exit(1)
}
const tsconfig = join(pluginDir, 'tsconfig.build.json')
writeFileSync(
  tsconfig,
  JSON.stringify({
    extends: './tsconfig.json',
    compilerOptions: { paths: { 'openclaw/plugin-sdk/*': [`${relative(pluginDir, sdkDir)}/*.d.ts`] } },
  }),
)
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
try {
  execFileSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' })
} finally {
  rmSync(tsconfig, { force: true })
}
execFileSync(process.execPath, [join(pluginDir, 'scripts', 'write-manifest.mjs')], { stdio: 'inherit' })
