// A RetryEngine in a child process (`engine-child.mjs`), for tests where engines must be separate
// processes (a state-dir lease is released by the OS when its process dies).
//   const a = await startEngineProcess({ stateDir, gateway: { url, token } })
//   await a.call('park', key, failure, meta)   // any engine method, over IPC
//   a.events                                   // every engine event, with `at` (epoch ms)
//   a.kill()                                   // SIGKILL: no close(), the OS drops the lease
//   await a.close()                            // engine.close(), then the process exits
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CHILD = fileURLToPath(new URL('./engine-child.mjs', import.meta.url))

/** Forks an engine process with `options` (JSON-safe) and resolves once it is started. */
export function startEngineProcess(options) {
  const child = fork(CHILD, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const events = []
  const waiting = new Map()
  let nextId = 1
  let exited = null
  const exitWaiters = []
  child.on('exit', (code, signal) => {
    exited = { code, signal }
    for (const { reject } of waiting.values()) reject(new Error(`engine process exited (${signal ?? code})`))
    waiting.clear()
    for (const w of exitWaiters.splice(0)) w(exited)
  })
  const handle = {
    pid: child.pid,
    events,
    get exited() {
      return exited
    },
    /** Calls `engine[method](...args)` in the child; rejects with the engine's error (`code` kept). */
    call(method, ...args) {
      if (exited) return Promise.reject(new Error('engine process has exited'))
      const id = nextId++
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        child.send({ id, method, args })
      })
    },
    /** SIGKILL (no close: the OS releases the process's locks). Resolves once it exited. */
    kill() {
      if (exited) return Promise.resolve(exited)
      const done = new Promise((r) => exitWaiters.push(r))
      child.kill('SIGKILL')
      return done
    },
    /** `engine.close()`, then disconnects; resolves once the process exited. */
    async close() {
      if (exited) return exited
      const done = new Promise((r) => exitWaiters.push(r))
      await handle.call('close').catch(() => {})
      if (child.connected) child.disconnect()
      return done
    },
  }
  return new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m?.type === 'event') return void events.push(m.event)
      if (m?.type === 'started') return resolve(handle)
      const w = waiting.get(m?.id)
      if (!w) return
      waiting.delete(m.id)
      if (m.ok) w.resolve(m.value)
      else w.reject(Object.assign(new Error(m.error.message), { code: m.error.code }))
    })
    child.once('exit', (code, signal) => reject(new Error(`engine process exited before it started (${signal ?? code})`)))
  })
}
