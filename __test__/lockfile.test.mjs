// Reproducible install: package-lock.json must match package.json so that `npm ci` (what
// `npm run setup` and .ci/run use) installs it unchanged. Catches a dependency added to
// package.json without re-locking (`npm install` then commit package-lock.json).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { ROOT } from '../scripts/pack-local.mjs'

const readJson = (file) => JSON.parse(readFileSync(join(ROOT, file), 'utf8'))
const FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'workspaces']

test('the lockfile root lists exactly what package.json declares', () => {
  const pkg = readJson('package.json')
  const lock = readJson('package-lock.json')
  assert.equal(lock.lockfileVersion, 3)
  assert.equal(lock.name, pkg.name)
  assert.equal(lock.version, pkg.version)
  const root = lock.packages['']
  for (const field of FIELDS) {
    assert.deepEqual(root[field], pkg[field], `package-lock.json "${field}" differs from package.json: run \`npm install\``)
  }
  const declared = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies }
  for (const name of Object.keys(declared)) {
    assert.ok(lock.packages[`node_modules/${name}`], `${name} is declared but not locked: run \`npm install\``)
  }
})

test('npm ci accepts the lockfile as it is (dry run, offline)', () => {
  const r = spawnSync('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  })
  assert.equal(r.status, 0, `npm ci --dry-run failed:\n${r.stdout}\n${r.stderr}`)
})
