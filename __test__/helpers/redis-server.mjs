// A real redis-server for tests: unix socket in a temp dir (no TCP port), no persistence,
// SIGKILLed by stop(). `startRedis()` returns null (after a loud banner) only when redis-server
// is not installed and REDIS_TESTS_REQUIRED is unset; CI sets it.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const BIN = process.env.REDIS_SERVER || 'redis-server'

export function redisAvailable () {
  const r = spawnSync(BIN, ['--version'], { encoding: 'utf8' })
  if (r.status === 0) return true
  if (process.env.REDIS_TESTS_REQUIRED) throw new Error(`${BIN} is required (REDIS_TESTS_REQUIRED) but did not run`)
  console.error('\n!!!! SKIPPED: redis-server not installed (apt-get install redis-server) !!!!\n')
  return false
}

const canConnect = (sock) => new Promise((resolve) => {
  const c = net.connect(sock)
  c.once('connect', () => { c.destroy(); resolve(true) })
  c.once('error', () => resolve(false))
})

export async function startRedis () {
  if (!redisAvailable()) return null
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-engine-redis-'))
  const sock = path.join(dir, 'redis.sock')
  let child = null
  const up = async () => {
    fs.rmSync(sock, { force: true })
    child = spawn(BIN, ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700',
      '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
    const deadline = Date.now() + 10_000
    while (!(await canConnect(sock))) {
      if (Date.now() > deadline) throw new Error('redis-server did not start')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const stop = async () => {
    if (!child) return
    const c = child
    child = null
    if (c.exitCode === null) {
      const gone = new Promise((resolve) => c.once('exit', resolve))
      c.kill('SIGKILL')
      await gone
    }
  }
  await up()
  return {
    url: `redis+unix://${sock}`,
    stop,
    restart: async () => { await stop(); await up() },
    close: async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }) }
  }
}
