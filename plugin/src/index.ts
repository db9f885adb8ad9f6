// OpenClaw plugin entry (package.json `openclaw.extensions`). Loads the native addon by its
// package name, never by a path outside the package, so it works wherever OpenClaw installs the
// package (`<state>/extensions/retry-engine`, a managed npm project, a linked checkout).
// Plain `require('openclaw-retry-engine')` users never load this file.
// `openclaw/plugin-sdk/*` is provided by the gateway/CLI that loads the plugin.
import { buildJsonPluginConfigSchema, definePluginEntry } from 'openclaw/plugin-sdk/plugin-entry'
import { addGatewayClientOptions, callGatewayFromCli } from 'openclaw/plugin-sdk/gateway-runtime'
import { configSchema, uiHints } from './config.js'
import { PLUGIN_DESCRIPTION, PLUGIN_ID, PLUGIN_NAME } from './manifest.js'
import { createPlugin, processHolder } from './plugin.js'
// A static import by package name (a self-reference through package.json `exports`): OpenClaw's
// loader captures exactly what the entry imports, and Node resolves it inside the package.
import { RetryEngine } from 'openclaw-retry-engine'

const plugin = createPlugin(
  {
    cli: {
      call: (method, opts, params, scopes) => callGatewayFromCli(method, opts, params, { scopes: scopes as any }),
      addOptions: (cmd) => addGatewayClientOptions(cmd),
      out: {
        log: (line) => process.stdout.write(`${line}\n`),
        error: (line) => process.stderr.write(`${line}\n`),
        fail: () => {
          process.exitCode = 1
        },
      },
    },
  },
  () => ({ RetryEngine }),
  processHolder(),
)

export default definePluginEntry({
  id: PLUGIN_ID,
  name: PLUGIN_NAME,
  description: PLUGIN_DESCRIPTION,
  configSchema: buildJsonPluginConfigSchema(configSchema(), { uiHints: uiHints() }),
  register: (api) => plugin.register(api),
})
