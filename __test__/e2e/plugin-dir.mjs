// The plugin as OpenClaw users get it, for tests that load it through `plugins.load.paths`:
// `npm run pack:local`'s self-contained plugin directory (the packed root package with the
// platform package in its node_modules). Not the checkout itself: OpenClaw's loader copies a
// plugin's whole directory tree (all but node_modules/.git), and a checkout holds target/.
//   const dir = packedPluginDir()   // packed once per process, removed at exit
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packLocal } from '../../scripts/pack-local.mjs'

let packed

/** Packs the local build once (needs `npm run build` first) and returns the plugin directory. */
export function packedPluginDir() {
  if (!packed) {
    const out = mkdtempSync(join(tmpdir(), 'retry-engine-plugin-dir-'))
    process.once('exit', () => rmSync(out, { recursive: true, force: true }))
    packed = packLocal(out)
  }
  return packed.pluginDir
}
