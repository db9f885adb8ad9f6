// A minimal OpenClaw plugin built on the engine (the package also ships a complete one in
// plugin/). It parks runs that failed on a provider rate limit or quota — provider errors reach
// `agent_end` with `success: true` and the error only in the last assistant message — and lets
// the engine resend them through the gateway (`chat.send`) when the window resets.
//
// Use it: put this file in a directory with an `openclaw.plugin.json`
// ({"id": "my-retry", "configSchema": {"type": "object"}}), add that directory to
// `plugins.load.paths` and set `plugins.entries.my-retry.hooks.allowConversationAccess: true`.
// Run it directly (`node examples/openclaw-plugin.mjs`) to see it handle a sample event with a
// stand-in for the gateway's plugin API.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RetryEngine } from 'openclaw-retry-engine'

/** Build the plugin; `engineOptions` adds options (e.g. `resend` instead of the gateway). */
export function createPlugin (engineOptions = {}) {
  let engine = null
  return {
    id: 'my-retry',
    name: 'My retry plugin',
    register (api) {
      api.registerService({
        id: 'my-retry-service',
        async start (ctx) {
          engine = new RetryEngine({
            stateDir: join(ctx.stateDir, 'my-retry'),
            gateway: { token: process.env.OPENCLAW_GATEWAY_TOKEN },
            onEvent: (e) => ctx.logger.info(`my-retry ${e.type} ${e.sessionKey ?? e.key ?? ''}`),
            ...engineOptions,
          })
          await engine.start()
        },
        async stop () {
          await engine?.close()
          engine = null
        },
      })
      api.on('agent_end', async (event, ctx) => {
        if (!engine || !ctx?.sessionKey) return
        const c = engine.classify(event)
        // The run id: a good run confirms a probe only when it is the engine's own resend's run,
        // and a parked run still in flight (the gateway retrying it) is waited for, not resent.
        const runId = event.runId ?? ctx.runId
        if (c.reason === null) {
          await engine.resolve(ctx.sessionKey, runId ? { runId } : undefined) // a good run: forget the session
        } else if (c.retryable) {
          await engine.park(ctx.sessionKey, event, { provider: ctx.modelProviderId, ...(runId ? { runId } : {}) })
        }
      })
      api.on('message_sending', (event, ctx) => {
        const room = ctx?.channelId ?? event.to
        return engine && room && engine.checkMessage(String(room), String(event.content ?? '')).cancel
          ? { cancel: true }
          : undefined
      }, { priority: 100 })
    },
  }
}

export default createPlugin()

// `node examples/openclaw-plugin.mjs`: drive the plugin with a stand-in for the plugin API.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hooks = {}
  let service
  let resent
  const done = new Promise((resolve) => { resent = resolve })
  const api = {
    registerService: (s) => { service = s },
    on: (name, fn) => { hooks[name] = fn },
  }
  // Resend through a callback here; in OpenClaw the default (the gateway) is what you want.
  createPlugin({ resend: async (req) => resent(req) }).register(api)
  const stateDir = mkdtempSync(join(tmpdir(), 'my-retry-'))
  await service.start({ stateDir, logger: console })
  // What the gateway 2026.9.6 hands agent_end for a provider 429: success true, the error in
  // the last assistant message (plus the `; Retry-After` suffix it appends).
  await hooks.agent_end({
    runId: 'run-1',
    success: true,
    messages: [
      { role: 'user', content: 'Summarise the report.' },
      { role: 'assistant', stopReason: 'error', errorCode: '429', errorMessage: 'Rate limit reached for requests per min. Please try again in 1s.; Retry-After: 1 seconds' },
    ],
  }, { sessionKey: 'agent:main:report', modelProviderId: 'openai' })
  const req = await done
  console.log(`resent ${req.sessionKey} with ${req.idempotencyKey}`)
  await service.stop()
  rmSync(stateDir, { recursive: true, force: true })
}
