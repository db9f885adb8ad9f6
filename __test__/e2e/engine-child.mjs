// One started RetryEngine in its own process, driven over IPC by `engine-process.mjs` (the
// parent). argv[2]: the engine options as JSON. Messages in: `{id, method, args}` (any engine
// method, e.g. park, stats, pending, close); out: `{id, ok, value | error}`, `{type: 'event',
// event}` for every engine event (with `at`, epoch ms) and `{type: 'started'}` once started.
import { createRequire } from 'node:module'

const { RetryEngine } = createRequire(import.meta.url)('../../index.js')
const options = JSON.parse(process.argv[2])
const engine = new RetryEngine({ ...options, onEvent: (event) => process.send?.({ type: 'event', event: { ...event, at: Date.now() } }) })

process.on('message', async ({ id, method, args = [] }) => {
  try {
    const value = await engine[method](...args)
    process.send?.({ id, ok: true, value: value ?? null })
  } catch (err) {
    process.send?.({ id, ok: false, error: { message: err.message, code: err.code } })
  }
})
// The parent went away: close like a host would, then exit.
process.on('disconnect', () => {
  engine.close().finally(() => process.exit(0))
})
await engine.start()
process.send?.({ type: 'started' })
