"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
// OpenClaw plugin entry (package.json `openclaw.extensions`). Loads the native addon by its
// package name, never by a path outside the package, so it works wherever OpenClaw installs the
// package (`<state>/extensions/retry-engine`, a managed npm project, a linked checkout).
// Plain `require('openclaw-retry-engine')` users never load this file.
// `openclaw/plugin-sdk/*` is provided by the gateway/CLI that loads the plugin.
const plugin_entry_1 = require("openclaw/plugin-sdk/plugin-entry");
const gateway_runtime_1 = require("openclaw/plugin-sdk/gateway-runtime");
const config_js_1 = require("./config.js");
const manifest_js_1 = require("./manifest.js");
const plugin_js_1 = require("./plugin.js");
// A static import by package name (a self-reference through package.json `exports`): OpenClaw's
// loader captures exactly what the entry imports, and Node resolves it inside the package.
const openclaw_retry_engine_1 = require("openclaw-retry-engine");
const plugin = (0, plugin_js_1.createPlugin)({
    cli: {
        call: (method, opts, params, scopes) => (0, gateway_runtime_1.callGatewayFromCli)(method, opts, params, { scopes: scopes }),
        addOptions: (cmd) => (0, gateway_runtime_1.addGatewayClientOptions)(cmd),
        out: {
            log: (line) => process.stdout.write(`${line}\n`),
            error: (line) => process.stderr.write(`${line}\n`),
            fail: () => {
                process.exitCode = 1;
            },
        },
    },
}, () => ({ RetryEngine: openclaw_retry_engine_1.RetryEngine }), (0, plugin_js_1.processHolder)());
exports.default = (0, plugin_entry_1.definePluginEntry)({
    id: manifest_js_1.PLUGIN_ID,
    name: manifest_js_1.PLUGIN_NAME,
    description: manifest_js_1.PLUGIN_DESCRIPTION,
    configSchema: (0, plugin_entry_1.buildJsonPluginConfigSchema)((0, config_js_1.configSchema)(), { uiHints: (0, config_js_1.uiHints)() }),
    register: (api) => plugin.register(api),
});
