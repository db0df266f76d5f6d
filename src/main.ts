#!/usr/bin/env bun
// Entry point. Two runtime settings are read only when the process starts, so when either is unset we re-exec
// ourselves once with it set (same pid, nothing else loaded yet), then load the CLI. A value the user set is kept.
// - BUN_CONFIG_MAX_HTTP_REQUESTS: Bun's fetch caps simultaneous upstream requests at 256 without it, and per-provider
//   `max_concurrent` must be the only cap (65535 is Bun's maximum).
// - BUN_JSC_forceRAMSize: the JavaScriptCore GC sizes its heap from the machine's RAM, so on a large host a gateway's
//   heap grows by tens of MB of garbage before it collects. Sizing it as if for 512 MB keeps RSS flat under load at no
//   measured CPU cost (bench: RSS after 100k requests 150 → 115 MB, growth from the 1k mark 30% → 7%).
const RUNTIME_DEFAULTS: Record<string, string> = {
  BUN_CONFIG_MAX_HTTP_REQUESTS: "65535",
  BUN_JSC_forceRAMSize: String(512 * 1024 * 1024),
};

const missing = Object.entries(RUNTIME_DEFAULTS).filter(([k]) => !process.env[k]);
if (missing.length && typeof process.execve === "function") {
  // Compiled: argv[1] is the embedded entry (/$bunfs/...). From source: argv[1] is this script and must be kept, and
  // so must Bun's own flags (`bun --cpu-prof src/main.ts` …), which argv leaves out.
  const args = Bun.main.startsWith("/$bunfs") ? process.argv.slice(2) : [...process.execArgv, ...process.argv.slice(1)];
  process.execve(process.execPath, [process.execPath, ...args], { ...process.env, ...Object.fromEntries(missing) });
}

await import("./cli.ts");

export {};
