// The README runs as printed, and so do the shipped examples: pack the two packages, install
// them into an empty project, then run every ```js block of README.md as an ES module, compile
// every ```ts block with `tsc --strict`, run examples/*.mjs from the installed package, and
// compile a strict consumer that parks what it caught (`catch (err: unknown)`).
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ROOT, packLocal } from '../scripts/pack-local.mjs'
import { strictTsconfig } from './fixtures/strict-tsconfig.mjs'

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const PKG = 'openclaw-retry-engine'
const childEnv = { ...process.env }
delete childEnv.NAPI_RS_NATIVE_LIBRARY_PATH
delete childEnv.NODE_OPTIONS

/** The fenced code blocks of a Markdown text: `{ lang, code, line }`. */
export function codeBlocks (markdown) {
  const blocks = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i])
    if (!open) continue
    const start = i
    const body = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i])
    blocks.push({ lang: open[1], code: body.join('\n') + '\n', line: start + 1 })
  }
  return blocks
}

const blocks = codeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
const jsBlocks = blocks.filter((b) => ['js', 'mjs', 'javascript'].includes(b.lang))
const tsBlocks = blocks.filter((b) => ['ts', 'typescript'].includes(b.lang))
const examples = ['quickstart.mjs', 'openai-sdk.mjs', 'openclaw-plugin.mjs']

let work
let project

function node (file) {
  const r = spawnSync(process.execPath, [file], { cwd: project, env: childEnv, encoding: 'utf8', timeout: 60_000 })
  return { ok: r.status === 0 && r.signal === null, output: `${r.stdout}${r.stderr}`, status: r.status, signal: r.signal }
}

function tsc (files) {
  const config = join(project, `tsconfig.${files.length}.${Date.now()}.json`)
  writeFileSync(config, strictTsconfig(files))
  const r = spawnSync(process.execPath, [TSC, '-p', config], { cwd: project, env: childEnv, encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

describe('README code blocks and shipped examples run against the packed package', { timeout: 300_000 }, () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'retry-engine-readme-'))
    const packed = packLocal(join(work, 'tarballs'))
    project = join(work, 'project')
    mkdirSync(project)
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'readme-consumer', version: '1.0.0', private: true }))
    const openai = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies.openai
    execFileSync('npm', ['install', '--no-audit', '--no-fund', packed.root.file, packed.platform.file, `openai@${openai}`], {
      cwd: project,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    })
  })
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true })
  })

  test('the README has JS and TS blocks to run', () => {
    assert.ok(jsBlocks.length >= 4, `only ${jsBlocks.length} js blocks`)
    assert.ok(tsBlocks.length >= 1)
  })

  for (const [i, block] of jsBlocks.entries()) {
    test(`README.md:${block.line} (js block ${i + 1}) runs as printed`, () => {
      const file = join(project, `readme-${block.line}.mjs`)
      writeFileSync(file, block.code)
      const r = node(file)
      assert.ok(r.ok, `README.md:${block.line} failed (status ${r.status}, signal ${r.signal}):\n${r.output}`)
    })
  }

  test('every README ts block passes tsc --strict', () => {
    const files = tsBlocks.map((block) => {
      const file = `readme-${block.line}.ts`
      writeFileSync(join(project, file), block.code)
      return file
    })
    const r = tsc(files)
    assert.equal(r.status, 0, r.output)
  })

  for (const example of examples) {
    test(`examples/${example} from the installed package runs`, () => {
      const r = node(join(project, 'node_modules', PKG, 'examples', example))
      assert.ok(r.ok, `examples/${example} failed:\n${r.output}`)
    })
  }

  test('a strict consumer parks what it caught (catch (err: unknown)), and misuse is rejected', () => {
    writeFileSync(join(project, 'strict.ts'), `import { RetryEngine, isRetryEngineError } from '${PKG}'
import type { ErrorCode, EngineEvent, ResendRequest } from '${PKG}'

export async function run(engine: RetryEngine, k: string, work: () => Promise<void>): Promise<void> {
  try {
    await work()
  } catch (err: unknown) {
    await engine.park(k, err)
    engine.recordFailure(k, err, null)
    engine.classify(err)
  }
  const s = engine.state(k, null)
  engine.breakerAcquire(k, null)
  engine.nextReset('1d', null, null)
  await engine.start({ signal: AbortSignal.timeout(1000) })
  await engine.sendToSession(k, 'hi', { idempotencyKey: 'x', signal: new AbortController().signal })
  await engine.gatewayRequest('cron.list', null, { signal: null })
  const off: () => boolean = engine.on('parked', (e) => console.log(e.sessionKey, e.retryAtMs, e.atMs))
  off()
  engine.unref().ref()
  console.log(s, engine.hasRef(), await engine.metrics())
  await engine.close({ timeoutMs: 100 })
}

export function code(err: unknown): ErrorCode | null {
  return isRetryEngineError(err) ? err.code : null
}

export const resend = async (req: ResendRequest): Promise<void> => {
  if (req.signal.aborted) return
}

export const onEvent = (e: EngineEvent): string => e.type
`)
    const good = tsc(['strict.ts'])
    assert.equal(good.status, 0, good.output)

    writeFileSync(join(project, 'misuse.ts'), `import { RetryEngine } from '${PKG}'
const engine = new RetryEngine()
engine.on('parked', (e) => console.log(e.nosuchfield))
const n: number = engine.hasRef()
export { n }
`)
    const bad = tsc(['misuse.ts'])
    assert.notEqual(bad.status, 0, bad.output)
    assert.match(bad.output, /misuse\.ts\(3,\d+\): error TS2339/)
    assert.match(bad.output, /misuse\.ts\(4,\d+\): error TS2322/)
  })
})
