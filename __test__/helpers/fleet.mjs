// Fleet helpers shared by __test__/fleet.test.mjs and benchmark/fleet.mjs: a fake provider
// account (local HTTP server counting every call) and engine processes
// (fixtures/fleet-engine.mjs) driven over stdin/stdout.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const FIXTURE = path.join(here, '..', 'fixtures', 'fleet-engine.mjs')
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const dirs = []
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-fleet-'))
  dirs.push(dir)
  return dir
}
export function cleanupFleetDirs () {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** Sorted session keys of the provider's successful calls. */
export const okCalls = (p) => p.calls.filter((c) => c.ok).map((c) => c.sessionKey).sort()

export async function waitFor (predicate, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** The shared provider account: `down` answers 429; `hold(fn)` can keep a request open. */
export async function startProvider () {
  const p = { down: true, calls: [], hold: null }
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => {
      const call = { ...JSON.parse(body), ok: !p.down, at: Date.now() }
      p.calls.push(call)
      if (p.hold && p.hold(call)) return // never answered (the caller gets killed)
      res.writeHead(p.down ? 429 : 200, { 'content-type': 'text/plain' })
      res.end(p.down ? 'rate limited' : 'ok')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  p.url = `http://127.0.0.1:${server.address().port}/v1/call`
  p.close = () => { server.closeAllConnections(); return new Promise((resolve) => server.close(resolve)) }
  return p
}

/** Start one engine process; collects its events. */
export function startEngine (redisUrl, providerUrl, name, keys, env = {}) {
  const child = spawn(process.execPath, [FIXTURE, redisUrl, tmpDir(), providerUrl, name, ...keys], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env }
  })
  const e = { name, keys, child, events: [], exited: false }
  child.on('exit', () => { e.exited = true })
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    try { e.events.push(JSON.parse(line)) } catch { /* not ours */ }
  })
  e.send = (cmd) => child.stdin.write(cmd + '\n')
  e.has = (type) => e.events.some((ev) => ev.type === type)
  e.count = (type) => e.events.filter((ev) => ev.type === type).length
  e.final = async () => {
    e.send('exit')
    await waitFor(() => e.has('final'), `${name} final`)
    return e.events.find((ev) => ev.type === 'final')
  }
  return e
}

export async function startFleet (redisUrl, provider, layout) {
  const fleet = Object.entries(layout).map(([name, keys]) => startEngine(redisUrl, provider.url, name, keys))
  await waitFor(() => fleet.every((e) => e.has('ready')), 'engines ready')
  for (const e of fleet) e.send('go')
  await waitFor(() => fleet.every((e) => e.has('parked-all')), 'sessions parked')
  return fleet
}

