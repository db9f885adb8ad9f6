// The published shape, end to end: pack the root package and the linux-x64-gnu platform
// package (scripts/pack-local.mjs), install both tarballs into an empty project, and use the
// engine from there through CommonJS, ESM and TypeScript. Needs `npm run build` first and the
// npm registry reachable (npm resolves the root's optionalDependencies against it; the
// explicitly installed platform tarball satisfies it).
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { BINARY, ROOT, packLocal } from '../scripts/pack-local.mjs'
import { strictTsconfig } from './fixtures/strict-tsconfig.mjs'

const ROOT_PKG = 'openclaw-retry-engine'
const PLATFORM_PKG = 'openclaw-retry-engine-linux-x64-gnu'
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

// The child processes must load the installed packages, never a binary pointed at from outside.
const childEnv = { ...process.env }
delete childEnv.NAPI_RS_NATIVE_LIBRARY_PATH
delete childEnv.NODE_OPTIONS

let work
let packed
let project

/** Run `node <file>` in the consumer project; returns its stdout, fails with its stderr. */
function runNode(file) {
  const r = spawnSync(process.execPath, [file], {
    cwd: project,
    env: childEnv,
    encoding: 'utf8',
    timeout: 30_000,
  })
  assert.equal(r.status, 0, `node ${file} failed:\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

/** Run tsc on a tsconfig in the consumer project; returns `{status, output}`. */
function runTsc(tsconfig) {
  const r = spawnSync(process.execPath, [TSC, '--noEmit', '-p', join(project, tsconfig)], {
    cwd: project,
    env: childEnv,
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

const tsconfig = (file) => strictTsconfig([file])

// Shared body of the JS consumers: construct, classify, decide, close; prints a JSON summary.
const consumerBody = `
const engine = new RetryEngine({ stateDir: process.env.CONSUMER_STATE_DIR })
const c = engine.classify({ status: 429, headers: { 'retry-after': '7' }, body: 'Too Many Requests' })
const chat = engine.classify({ kind: 'chat_text', text: 'Sure, here is the summary you asked for.' })
const d = engine.recordFailure('cron:nightly', 'Your credit balance is too low to access the API.')
await engine.close()
console.log(JSON.stringify({ reason: c.reason, retryAfterMs: c.retryAfterMs, chat: chat.reason, action: d.action }))
`

const expectedSummary = { reason: 'rate_limit', retryAfterMs: 7000, chat: null, action: 'disable' }

describe('packed packages install and work in an empty project', { timeout: 90_000 }, () => {
  before(() => {
    assert.ok(existsSync(join(ROOT, BINARY)), `${BINARY} is missing: run \`npm run build\` first`)
    work = mkdtempSync(join(tmpdir(), 'retry-engine-pack-test-'))
    packed = packLocal(join(work, 'tarballs'))
    project = join(work, 'project')
    mkdirSync(project)
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
    )
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--offline=false', packed.root.file, packed.platform.file],
      { cwd: project, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 },
    )
    childEnv.CONSUMER_STATE_DIR = join(work, 'state')
  })
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true })
  })

  test('the tarballs hold the right files, the binary only in the platform package', () => {
    assert.deepEqual(
      [...packed.root.files].sort(),
      ['CHANGELOG.md', 'LICENSE', 'README.md', 'index.d.ts', 'index.js', 'openclaw.plugin.json', 'package.json',
        'examples/openai-sdk.mjs', 'examples/openclaw-plugin.mjs', 'examples/quickstart.mjs'].concat(
        existsSync(join(ROOT, 'plugin')) ? packed.root.files.filter((f) => f.startsWith('plugin/')) : [],
      ).sort(),
    )
    assert.ok(packed.platform.files.includes(BINARY), packed.platform.files.join(', '))
    assert.ok(!packed.root.files.some((f) => f.endsWith('.node')))
    // the copy made for packing is gone again, so it cannot be committed by accident
    assert.ok(!existsSync(join(ROOT, 'npm', 'linux-x64-gnu', BINARY)))
  })

  test('both packages are installed, the binary comes from the platform package', () => {
    const modules = join(project, 'node_modules')
    assert.ok(existsSync(join(modules, ROOT_PKG, 'index.js')))
    assert.ok(existsSync(join(modules, PLATFORM_PKG, BINARY)))
    assert.deepEqual(
      readdirSync(join(modules, ROOT_PKG)).filter((f) => f.endsWith('.node')),
      [],
    )
  })

  test('CommonJS: require() constructs, classifies and closes', () => {
    writeFileSync(
      join(project, 'consumer.cjs'),
      `const { RetryEngine } = require('${ROOT_PKG}');
(async () => {
${consumerBody}
const loaded = Object.keys(require.cache).filter((p) => p.endsWith('.node'))
if (!loaded.some((p) => p.includes('${PLATFORM_PKG}'))) throw new Error('binary not from the platform package: ' + loaded)
})().catch((e) => { console.error(e); process.exit(1) })
`,
    )
    assert.deepEqual(JSON.parse(runNode('consumer.cjs')), expectedSummary)
  })

  test('ESM: import { RetryEngine } constructs, classifies and closes', () => {
    writeFileSync(
      join(project, 'consumer.mjs'),
      `import { RetryEngine } from '${ROOT_PKG}'
${consumerBody}`,
    )
    assert.deepEqual(JSON.parse(runNode('consumer.mjs')), expectedSummary)
  })

  test('TypeScript: a consumer using the shipped types passes tsc --noEmit', () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { RetryEngine } from '${ROOT_PKG}'
import type { Classification, Decision, RetryEngineOptions } from '${ROOT_PKG}'

const options: RetryEngineOptions = { stateDir: '/tmp/consumer-state', seed: 7, budgetWindow: '5h' }
const engine: RetryEngine = new RetryEngine(options)
const c: Classification = engine.classify({ status: 429, headers: { 'retry-after': '7' } })
const waitMs: number | undefined = c.retryAfterMs
const d: Decision = engine.recordFailure('cron:nightly', new Error('HTTP 429'))
const action: 'retry' | 'wait' | 'disable' = d.action
export async function done(): Promise<void> {
  await engine.close()
  console.log(waitMs, action)
}
`,
    )
    writeFileSync(join(project, 'tsconfig.json'), tsconfig('consumer.ts'))
    const good = runTsc('tsconfig.json')
    assert.equal(good.status, 0, good.output)

    // The check has teeth: misuse of the same types is rejected.
    writeFileSync(
      join(project, 'misuse.ts'),
      `import { RetryEngine } from '${ROOT_PKG}'
const engine = new RetryEngine({ stateDir: 42 })
const reason: number = engine.classify('x').reason
export { reason }
`,
    )
    writeFileSync(join(project, 'tsconfig.misuse.json'), tsconfig('misuse.ts'))
    const bad = runTsc('tsconfig.misuse.json')
    assert.notEqual(bad.status, 0, bad.output)
    assert.match(bad.output, /misuse\.ts\(2,\d+\): error TS2322/)
    assert.match(bad.output, /misuse\.ts\(3,\d+\): error TS2322/)
  })
})
