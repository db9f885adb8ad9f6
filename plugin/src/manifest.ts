// The plugin manifest (`openclaw.plugin.json` at the package root), built from one place:
// `npm run build:plugin` writes it from manifest() and a test checks the committed copy.
import { configSchema, uiHints } from './config.js'

/** Plugin id (also the key under `plugins.entries`). */
export const PLUGIN_ID = 'retry-engine'
/** Shown by `openclaw plugins list|inspect`. */
export const PLUGIN_NAME = 'Retry engine'
/** One sentence for catalogs and `plugins inspect`. */
export const PLUGIN_DESCRIPTION =
  'Parks sessions that failed on provider rate limits and quotas and resumes them (one probe first) when the window resets; disables cron jobs that waiting cannot fix; cancels repeated provider-error messages.'
/** The root CLI command the plugin registers (`openclaw retry-engine …`). */
export const CLI_COMMAND = 'retry-engine'
/** Its help line. */
export const CLI_DESCRIPTION = 'List, retry and drop sessions parked by the retry engine; show its status'
/** The queue's directory under the OpenClaw state dir (the default `stateDir`). */
export const STATE_SUBDIR = 'retry-engine'

/** The whole manifest object. */
export function manifest() {
  return {
    id: PLUGIN_ID,
    name: PLUGIN_NAME,
    description: PLUGIN_DESCRIPTION,
    categories: ['infrastructure'],
    // The service must run from gateway start: it owns the resume scheduler.
    activation: { onStartup: true },
    cliCommands: [{ name: CLI_COMMAND, description: CLI_DESCRIPTION, hasSubcommands: true }],
    backupResources: [{ disposition: 'include', scope: 'state', relativePath: STATE_SUBDIR }],
    uiHints: uiHints(),
    configSchema: configSchema(),
  }
}
