// The CLI: flags → config → server. Wiring only.
import { defineCommand, runMain } from "citty";
import { ConfigError, loadConfig } from "./config/load.ts";
import { providerModules } from "./providers/registry.ts";
import { escapeControls } from "./observability/escape.ts";
import { start, StartupError, VERSION } from "./server.ts";

const main = defineCommand({
  meta: { name: "alloy", version: VERSION, description: "A high-performance AI gateway: one OpenAI-compatible API for OpenAI, Anthropic and AWS Bedrock" },
  args: {
    port: { type: "string", alias: "p", description: "Port to listen on (env ALLOY_PORT, default 3000)", valueHint: "3000" },
    config: { type: "string", alias: "c", description: "Config file (env ALLOY_CONFIG, default config.toml)", valueHint: "config.toml" },
    "log-level": { type: "string", description: "silent|fatal|error|warn|info|debug|trace (env ALLOY_LOG_LEVEL, default info)" },
    "json-logs": { type: "boolean", description: "One JSON object per log line", default: false },
    metrics: { type: "boolean", description: "Serve Prometheus metrics at /metrics (--no-metrics to turn off)", default: true },
  },
  async run({ args }) {
    let running;
    try {
      const config = await loadConfig({
        port: args.port,
        config: args.config,
        logLevel: args["log-level"],
        jsonLogs: args["json-logs"],
        metrics: args.metrics,
      }, process.env, providerModules);
      running = await start(config);
    } catch (e) {
      // Every startup failure is one line and exit 2: ours already say what to fix; anything else is named by its
      // message, never a stack trace of minified source.
      const known = e instanceof ConfigError || e instanceof StartupError;
      const msg = e instanceof Error ? e.message : String(e);
      process.stderr.write(`alloy: ${escapeControls(known ? msg : `cannot start: ${msg}`)}\n`);
      process.exit(2);
    }
    const shutdown = (signal: string) => {
      running.log.info(`${signal} received: draining and shutting down`);
      running.stop(true).then(() => process.exit(0));
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  },
});

runMain(main);
