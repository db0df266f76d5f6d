#!/usr/bin/env bun
// Entry point. Bun's fetch caps simultaneous upstream requests at 256 unless BUN_CONFIG_MAX_HTTP_REQUESTS is set
// before the process starts (setting it later has no effect), and per-provider `max_concurrent` must be the only cap.
// So when it is unset we re-exec ourselves once with it set (same pid, nothing else loaded yet), then load the CLI.
const MAX_HTTP_REQUESTS = "65535"; // Bun's maximum

if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS && typeof process.execve === "function") {
  // Compiled: argv[1] is the embedded entry (/$bunfs/...); from source: argv[1] is this script and must be kept.
  const args = Bun.main.startsWith("/$bunfs") ? process.argv.slice(2) : process.argv.slice(1);
  process.execve(process.execPath, [process.execPath, ...args], { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: MAX_HTTP_REQUESTS });
}

await import("./cli.ts");

export {};
