// Packs the two npm packages the napi-rs way, from a local build:
//   openclaw-retry-engine                 index.js + index.d.ts (+ plugin/), no binary
//   openclaw-retry-engine-linux-x64-gnu   the prebuilt retry-engine.linux-x64-gnu.node
// The root package lists the platform package in `optionalDependencies`, so `npm install
// openclaw-retry-engine` fetches the binary for the machine it runs on.
//
// It also unpacks both into `<out-dir>/plugin-dir/openclaw-retry-engine/` (the root package with
// the platform package in its own node_modules): a self-contained directory for
// `openclaw plugins install <dir>`, which copies a directory as it is (OpenClaw installs
// dependencies only for archives and npm specs).
//
// Run: npm run build && npm run pack:local [-- <out-dir>]   (default out dir: a new temp dir)
// Prints the two tarball paths and the plugin directory as JSON. The binary is copied into npm/linux-x64-gnu/ only for
// the pack and removed again afterwards (it must never be committed).
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const PLATFORM_DIR = join(ROOT, 'npm', 'linux-x64-gnu')
export const BINARY = 'retry-engine.linux-x64-gnu.node'

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))

/** Throws unless the root package and the platform package agree on name, version and files. */
export function checkManifests() {
  const root = readJson(join(ROOT, 'package.json'))
  const platform = readJson(join(PLATFORM_DIR, 'package.json'))
  const problems = []
  if (root.optionalDependencies?.[platform.name] !== root.version) {
    problems.push(`package.json optionalDependencies["${platform.name}"] must be "${root.version}"`)
  }
  if (platform.version !== root.version) {
    problems.push(`npm/linux-x64-gnu/package.json version ${platform.version} must equal ${root.version}`)
  }
  if (platform.main !== BINARY || !platform.files?.includes(BINARY)) {
    problems.push(`npm/linux-x64-gnu/package.json must have main and files = ${BINARY}`)
  }
  if (problems.length) throw new Error(problems.join('\n'))
  return { root, platform }
}

function npmPack(dir, outDir) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', outDir], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const [info] = JSON.parse(out)
  return { file: join(outDir, info.filename), files: info.files.map((f) => f.path) }
}

/** Unpacks `root` and `platform` (tarball paths) into a self-contained plugin directory; returns it. */
export function unpackPluginDir(root, platform, outDir) {
  const dir = join(outDir, 'plugin-dir', 'openclaw-retry-engine')
  const dep = join(dir, 'node_modules', 'openclaw-retry-engine-linux-x64-gnu')
  mkdirSync(dep, { recursive: true })
  execFileSync('tar', ['-xzf', root, '-C', dir, '--strip-components=1'])
  execFileSync('tar', ['-xzf', platform, '-C', dep, '--strip-components=1'])
  return dir
}

/**
 * Copies the built binary into npm/linux-x64-gnu/, packs both packages into `outDir` and
 * removes the copied binary again. Returns `{ outDir, root, platform, pluginDir }` where `root`
 * and `platform` are `{ file, files }` (tarball path and the paths it holds) and `pluginDir` the
 * self-contained plugin directory (see unpackPluginDir).
 */
export function packLocal(outDir = mkdtempSync(join(tmpdir(), 'retry-engine-pack-'))) {
  checkManifests()
  const built = join(ROOT, BINARY)
  if (!existsSync(built)) {
    throw new Error(`${BINARY} not found in ${ROOT}: run \`npm run build\` first`)
  }
  mkdirSync(outDir, { recursive: true })
  const copied = join(PLATFORM_DIR, BINARY)
  const hadCopy = existsSync(copied)
  copyFileSync(built, copied)
  try {
    const platform = npmPack(PLATFORM_DIR, outDir)
    const root = npmPack(ROOT, outDir)
    return { outDir, root, platform, pluginDir: unpackPluginDir(root.file, platform.file, outDir) }
  } finally {
    if (!hadCopy) rmSync(copied, { force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { root, platform, pluginDir } = packLocal(process.argv[2] && resolve(process.argv[2]))
  console.log(JSON.stringify({ root: root.file, platform: platform.file, pluginDir }, null, 2))
}
