#!/usr/bin/env bun
// CPU that Alloy spends per call, by path: the process's utime + stime (all threads, from /proc/<pid>/stat) across a
// fixed number of requests, divided by that number. Throughput on a shared 2-core box moves with everything else
// running; CPU per call moves much less, so it is the number to compare before/after a change.
//   bun bench/bedrock-cpu.ts [--alloy <checkout root>] [--requests 4000] [--rounds 3] [--connections 16]
// `--alloy` runs another checkout's src/main.ts (e.g. `git archive main | tar -x -C /tmp/alloy-main` with a
// node_modules symlink) against the same bench upstream, so two builds are measured the same way.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sendCount } from "./bun-load.ts";
import { freePort, installCleanup, readCpu, spawnServer, stopAll, tempDir } from "./procs.ts";
import { benchUpstream } from "./setup.ts";
import { median } from "./stats.ts";
import { ALLOY_MODELS, chatBody } from "./targets.ts";

const ROOT = join(import.meta.dir, "..");
async function main() {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      alloy: { type: "string", default: ROOT },
      requests: { type: "string", default: "4000" },
      rounds: { type: "string", default: "3" },
      connections: { type: "string", default: "16" },
    },
  });
  const root = values.alloy!;
  const requests = Number(values.requests);
  const rounds = Number(values.rounds);
  const connections = Number(values.connections);
  installCleanup();
  const { env, toml } = await benchUpstream(root);
  const cfg = join(tempDir("alloy-cpu-"), "config.toml");
  writeFileSync(cfg, toml);
  const port = freePort();
  const alloy = await spawnServer(["bun", join(root, "src/main.ts"), "--config", cfg, "--port", String(port), "--log-level", "warn"], env, port);
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;

  const paths = [
    { label: "OpenAI JSON", body: chatBody(ALLOY_MODELS.openai.model, false) },
    { label: "Bedrock JSON", body: chatBody(ALLOY_MODELS.bedrock.model, false) },
    { label: "OpenAI stream", body: chatBody(ALLOY_MODELS.openai.model, true) },
    { label: "Bedrock stream", body: chatBody(ALLOY_MODELS.bedrock.model, true) },
  ];
  const samples = new Map(paths.map((p) => [p.label, [] as number[]]));
  // Warm-up: JIT tiers, the AWS SDK's lazy load, connection pools.
  for (const p of paths) {
    const r = await sendCount({ url, body: p.body, connections, requests: Math.max(500, requests / 4) });
    if (r.failed) throw new Error(`${p.label}: ${r.failed} warm-up requests failed: ${alloy.output().slice(-500)}`);
  }
  for (let round = 0; round < rounds; round++)
    for (const p of paths) {
      const before = readCpu(alloy.proc.pid);
      const r = await sendCount({ url, body: p.body, connections, requests });
      const us = (readCpu(alloy.proc.pid) - before) / requests;
      if (r.failed) throw new Error(`${p.label}: ${r.failed} requests failed`);
      samples.get(p.label)!.push(us);
      process.stderr.write(`round ${round + 1} ${p.label}: ${us.toFixed(0)} µs/call\n`);
    }
  await stopAll();

  const med = (label: string) => median(samples.get(label)!);
  console.log(`Alloy at ${root}: CPU per call (median of ${rounds} × ${requests} requests @${connections})`);
  for (const p of paths) console.log(`  ${p.label.padEnd(15)} ${med(p.label).toFixed(0).padStart(5)} µs`);
  console.log(`  Bedrock/OpenAI  JSON ${(med("Bedrock JSON") / med("OpenAI JSON")).toFixed(2)}x, stream ${(med("Bedrock stream") / med("OpenAI stream")).toFixed(2)}x`);
}

if (import.meta.main)
  main().catch(async (e) => {
    console.error(`bedrock-cpu: failed: ${(e as Error).stack ?? e}`);
    await stopAll(1000);
    process.exit(1);
  });
