"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.STATE_SUBDIR = exports.CLI_DESCRIPTION = exports.CLI_COMMAND = exports.PLUGIN_DESCRIPTION = exports.PLUGIN_NAME = exports.PLUGIN_ID = void 0;
exports.manifest = manifest;
// The plugin manifest (`openclaw.plugin.json` at the package root), built from one place:
// `npm run build:plugin` writes it from manifest() and a test checks the committed copy.
const config_js_1 = require("./config.js");
/** Plugin id (also the key under `plugins.entries`). */
exports.PLUGIN_ID = 'retry-engine';
/** Shown by `openclaw plugins list|inspect`. */
exports.PLUGIN_NAME = 'Retry engine';
/** One sentence for catalogs and `plugins inspect`. */
exports.PLUGIN_DESCRIPTION = 'Parks sessions that failed on provider rate limits and quotas and resumes them (one probe first) when the window resets; disables cron jobs that waiting cannot fix; cancels repeated provider-error messages.';
/** The root CLI command the plugin registers (`openclaw retry-engine …`). */
exports.CLI_COMMAND = 'retry-engine';
/** Its help line. */
exports.CLI_DESCRIPTION = 'List, retry and drop sessions parked by the retry engine; show its status';
/** The queue's directory under the OpenClaw state dir (the default `stateDir`). */
exports.STATE_SUBDIR = 'retry-engine';
/** The whole manifest object. */
function manifest() {
    return {
        id: exports.PLUGIN_ID,
        name: exports.PLUGIN_NAME,
        description: exports.PLUGIN_DESCRIPTION,
        categories: ['infrastructure'],
        // The service must run from gateway start: it owns the resume scheduler.
        activation: { onStartup: true },
        cliCommands: [{ name: exports.CLI_COMMAND, description: exports.CLI_DESCRIPTION, hasSubcommands: true }],
        backupResources: [{ disposition: 'include', scope: 'state', relativePath: exports.STATE_SUBDIR }],
        uiHints: (0, config_js_1.uiHints)(),
        configSchema: (0, config_js_1.configSchema)(),
    };
}
