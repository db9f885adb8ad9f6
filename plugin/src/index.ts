// OpenClaw plugin entry: `plugins.load.paths` → this directory; see plugin/README.md.
// Loads the native addon of the package this plugin ships in.
import { createRequire } from 'node:module'
import { createPlugin, processHolder } from './plugin.js'

const require = createRequire(import.meta.url)

export { createPlugin, PLUGIN_ID, STATUS_METHOD } from './plugin.js'
export { parseConfig, PluginConfigError, DEFAULTS } from './config.js'

export default createPlugin({}, () => require('../../index.js'), processHolder())
