#!/usr/bin/env bun
// Where Alloy spends its CPU under load: runs Alloy from source with `bun --cpu-prof` against the bench upstream,
// drives one path for a while, stops Alloy (the profile is written on exit) and prints the top self-time functions.
//   bun bench/profile.ts [openai|anthropic|bedrock] [--stream] [--keyed] [--seconds 10] [--connections 64]
// `--keyed`: the bench's keyed config (one gateway key with an rpm limit), every request carrying the key.
// The raw .cpuprofile (open it in Chrome DevTools) and Bun's Markdown rendering stay in the printed directory.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { pickLoadTool } from "./load.ts";
import { freePort, installCleanup, spawnServer, stopAll } from "./procs.ts";
import { benchUpstream } from "./setup.ts";
import { ALLOY_MODELS, BENCH_KEY, chatBody, keyedConfig } from "./targets.ts";

const ROOT = join(import.meta.dir, "..");

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  share: number;
}

/** Where a frame is: `path:line` relative to `root`, or "(native)". */
function whereOf(f: ProfileNode["callFrame"], root: string): string {
  const url = f.url.replace(/^file:\/\//, "");
  return url ? `${url.startsWith(root) ? relative(root, url) : url}:${f.lineNumber + 1}` : "(native)";
}

/**
 * Time per function, largest first: each sample's time (timeDeltas[i] is the time since the previous sample) goes to
 * every frame `framesOf` names for it, a function counted once per sample.
 */
function chargeSamples(profile: CpuProfile, root: string, framesOf: (id: number) => Iterable<ProfileNode["callFrame"]>): SelfTime[] {
  const totals = new Map<string, SelfTime>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const us = Math.max(0, profile.timeDeltas[i] ?? 0);
    all += us;
    const seen = new Set<string>();
    for (const f of framesOf(id)) {
      const where = whereOf(f, root);
      const key = `${f.functionName}@${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const t = totals.get(key) ?? { fn: f.functionName || "(anonymous)", where, ms: 0, share: 0 };
      t.ms += us / 1000;
      totals.set(key, t);
    }
  });
  const out = [...totals.values()].sort((a, b) => b.ms - a.ms);
  for (const t of out) t.share = all ? (t.ms * 1000) / all : 0;
  return out;
}

/** Self time per function (summed over every node of the same function), largest first. */
export function selfTimes(profile: CpuProfile, root: string): SelfTime[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  return chargeSamples(profile, root, (id) => [byNode.get(id)!.callFrame]);
}

/**
 * Inclusive time per function of `root`'s own code (under `under`): its samples plus everything it called. What a
 * stage of the request path costs, callees (JSON, fetch, Headers…) included.
 */
export function inclusiveTimes(profile: CpuProfile, root: string, under = "src/"): SelfTime[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stack = function* (id: number) {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) yield byNode.get(at)!.callFrame;
  };
  return chargeSamples(profile, root, stack).filter((t) => t.where.startsWith(under));
}

async function main() {
  const { values, positionals } = parseArgs({
    args: Bun.argv.slice(2),
    allowPositionals: true,
    options: { stream: { type: "boolean", default: false }, keyed: { type: "boolean", default: false }, seconds: { type: "string", default: "10" }, connections: { type: "string", default: "64" } },
  });
  const path = (positionals[0] ?? "openai") as keyof typeof ALLOY_MODELS;
  if (!(path in ALLOY_MODELS)) throw new Error(`unknown path ${path}: use openai, anthropic or bedrock`);
  installCleanup();
  const { env, toml } = await benchUpstream(ROOT);
  // Kept after the run: the profile files are the point.
  const dir = mkdtempSync(join(tmpdir(), "alloy-profile-"));
  writeFileSync(join(dir, "config.toml"), values.keyed ? keyedConfig(toml) : toml);
  const port = freePort();
  const alloy = await spawnServer(
    ["bun", "--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-md", join(ROOT, "src/main.ts"), "--config", join(dir, "config.toml"), "--port", String(port), "--log-level", "warn"],
    env,
    port,
  );
  const tool = await pickLoadTool({ allowInstall: false, force: process.env.BENCH_LOAD_TOOL, log: (l) => console.error(l) });
  const body = chatBody(ALLOY_MODELS[path].model, values.stream);
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  console.error(`profiling Alloy → ${path}${values.stream ? " (streamed)" : ""} with ${tool.name} for ${values.seconds} s`);
  const headers = values.keyed ? { authorization: `Bearer ${BENCH_KEY}` } : undefined;
  const r = await tool.run({ url, body, headers, connections: Number(values.connections), seconds: Number(values.seconds) });
  console.error(`${Math.round(r.rps)} req/s, p50 ${r.p50Ms.toFixed(3)} ms, ${r.errors + r.non2xx} failed`);
  alloy.proc.kill("SIGINT");
  await alloy.proc.exited;
  await stopAll();

  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir}: ${alloy.output().slice(-500)}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  const top = selfTimes(profile, ROOT);
  // µs per request as well as shares: the load tool's count is every request the profiled process served.
  const perReq = (ms: number) => (r.requests ? `${((ms * 1000) / r.requests).toFixed(2).padStart(6)} µs/req` : "");
  const line = (t: SelfTime) => `${(t.share * 100).toFixed(1).padStart(5)}%  ${t.ms.toFixed(0).padStart(6)} ms ${perReq(t.ms)}  ${t.fn}  ${t.where}`;
  console.log(`${r.requests} requests profiled`);
  console.log("Top self time, whole process:");
  for (const t of top.slice(0, 25)) console.log(line(t));
  console.log("\nTop self time in src/:");
  for (const t of top.filter((t) => t.where.startsWith("src/")).slice(0, 15)) console.log(line(t));
  console.log("\nInclusive time (the function and all it calls) in src/:");
  for (const t of inclusiveTimes(profile, ROOT).slice(0, 30)) console.log(line(t));
  console.log(`\nprofile: ${join(dir, file)}`);
}

if (import.meta.main)
  main().catch(async (e) => {
    console.error(`profile: failed: ${(e as Error).stack ?? e}`);
    await stopAll(1000);
    process.exit(1);
  });
