#!/usr/bin/env bun
// Alloy's memory marks alone, in about a minute (the full `bun run bench` takes ~7): idle RSS, then VmRSS and VmHWM
// after exactly 1,000 and 100,000 requests mixing every path (every route, JSON and streamed), as run.ts measures them.
//   bun bench/memory.ts [--requests 100000] [--only <target key>] [--env NAME=VALUE ...]
// `--env` starts the compiled ./alloy with extra variables (e.g. BUN_JSC_forceRAMSize=268435456) to compare settings;
// `--only alloy-openai` sends one target's JSON request alone (the report's "OpenAI JSON path only" marks).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sendCount } from "./bun-load.ts";
import { freePort, installCleanup, readMem, spawnServer, stopAll, tempDir } from "./procs.ts";
import { benchUpstream } from "./setup.ts";
import { buildTargets, servedRoutes } from "./targets.ts";

const ROOT = join(import.meta.dir, "..");
const MB = (b: number) => `${(b / 1048576).toFixed(1)} MB`;

async function main() {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { requests: { type: "string", default: "100000" }, only: { type: "string" }, env: { type: "string", multiple: true, default: [] } },
  });
  installCleanup();
  const extra = Object.fromEntries(values.env!.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  const { env, upstream, toml, missing } = await benchUpstream(ROOT);
  const cfg = join(tempDir("alloy-mem-"), "config.toml");
  writeFileSync(cfg, toml);
  const port = freePort();
  const alloy = await spawnServer([join(ROOT, "alloy"), "--config", cfg, "--port", String(port), "--log-level", "warn"], { ...env, ...extra }, port);
  await Bun.sleep(1000);
  const idle = readMem(alloy.proc.pid);
  const targets = buildTargets({ upstream: upstream.port, bare: 0, floor: 0, alloy: port }, missing, servedRoutes(ROOT)).filter((t) => t.proc === "alloy" && !t.skipped);
  const mix = values.only
    ? targets.filter((t) => t.key === values.only).map((t) => ({ url: t.url, body: t.json }))
    : targets.flatMap((t) => [{ url: t.url, body: t.json }, ...(t.stream !== undefined ? [{ url: t.url, body: t.stream }] : [])]);
  if (mix.length === 0) throw new Error(`no target ${values.only}: ${targets.map((t) => t.key).join(", ")}`);
  let sent = 1; // the health probe
  const mark = async (upTo: number) => {
    const r = await sendCount({ ...mix[0]!, mix, connections: 64, requests: upTo - sent });
    sent = upTo;
    const m = readMem(alloy.proc.pid);
    console.log(`after ${upTo} requests: VmRSS ${MB(m.rss)}, VmHWM ${MB(m.hwm)}${r.failed ? ` (${r.failed} failed)` : ""}`);
  };
  console.log(`${mix.length} paths; idle: VmRSS ${MB(idle.rss)}, VmHWM ${MB(idle.hwm)}${Object.keys(extra).length ? ` (env ${JSON.stringify(extra)})` : ""}`);
  await mark(1000);
  await mark(Number(values.requests));
  await stopAll();
}

if (import.meta.main)
  main().catch(async (e) => {
    console.error(`memory: failed: ${(e as Error).stack ?? e}`);
    await stopAll(1000);
    process.exit(1);
  });
