#!/usr/bin/env bun
// The virtual-key check on the hot path: the same Alloy → OpenAI JSON request to an Alloy without keys and to one
// where a virtual key (rpm, tpm and a budget, so every per-request step runs: digest lookup, budget check, rpm ring,
// tpm window, x-ratelimit-* headers, billing) is required. CPU per call (utime + stime from /proc, which moves little
// on a shared box) and req/s, alternated per round; `bun run bench` has the same comparison as a throughput row.
//   bun bench/keys-cpu.ts [--requests 4000] [--rounds 3] [--connections 16]
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sendCount } from "./bun-load.ts";
import { freePort, installCleanup, readCpu, spawnServer, stopAll, tempDir } from "./procs.ts";
import { benchUpstream } from "./setup.ts";
import { median } from "./stats.ts";
import { ALLOY_MODELS, chatBody } from "./targets.ts";

const ROOT = join(import.meta.dir, "..");
const rotate = <T>(xs: T[], n: number) => xs.map((_, i) => xs[(i + n) % xs.length]!);

async function main() {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { requests: { type: "string", default: "4000" }, rounds: { type: "string", default: "3" }, connections: { type: "string", default: "16" } },
  });
  const requests = Number(values.requests);
  const rounds = Number(values.rounds);
  const connections = Number(values.connections);
  installCleanup();
  const { env, toml } = await benchUpstream(ROOT);
  const cfg = join(tempDir("alloy-keys-"), "config.toml");
  writeFileSync(cfg, toml);
  const start = async (extra: Record<string, string>) => {
    const port = freePort();
    const store = `sqlite://${join(tempDir("alloy-keys-store-"), "alloy.db")}`;
    const s = await spawnServer(["bun", join(ROOT, "src/main.ts"), "--config", cfg, "--port", String(port), "--log-level", "warn"], { ...env, ALLOY_STORE_URL: store, ...extra }, port);
    return { ...s, url: `http://127.0.0.1:${port}/v1/chat/completions`, base: `http://127.0.0.1:${port}` };
  };
  const admin = `bench-admin-${crypto.randomUUID()}`;
  const plain = await start({});
  const configKey = `bench-config-key-${crypto.randomUUID()}`;
  const configured = await start({ ALLOY_API_KEYS: configKey });
  const keyed = await start({ ALLOY_ADMIN_KEY: admin });
  const res = await fetch(`${keyed.base}/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ label: "bench", rpm: 100_000, tpm: 1_000_000_000, budget_usd: 1_000_000_000, budget_period: "monthly" }),
  });
  if (res.status !== 201) throw new Error(`POST /admin/keys: ${res.status} ${await res.text()}`);
  const key = ((await res.json()) as { key: string }).key;
  // The same key's limits in Redis (`[store] redis_url`): one round trip per request. Needs a redis-server, started
  // here like the upstream (no persistence); without one the row is skipped with a note.
  const redisBin = Bun.which("redis-server") ?? (existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : undefined);
  let redis: Bun.Subprocess | undefined;
  let shared: (Awaited<ReturnType<typeof start>> & { key: string }) | undefined;
  if (redisBin) {
    const rport = freePort();
    redis = Bun.spawn([redisBin, "--port", String(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tempDir("alloy-keys-redis-")], { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 200; i++) {
      const up = await Bun.connect({ hostname: "127.0.0.1", port: rport, socket: { data() {} } }).then((s) => (s.end(), true), () => false);
      if (up) break;
      await Bun.sleep(25);
    }
    const s = await start({ ALLOY_ADMIN_KEY: admin, ALLOY_REDIS_URL: `redis://127.0.0.1:${rport}` });
    const r = await fetch(`${s.base}/admin/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "bench", rpm: 100_000, tpm: 1_000_000_000, budget_usd: 1_000_000_000, budget_period: "monthly" }),
    });
    if (r.status !== 201) throw new Error(`POST /admin/keys (redis): ${r.status} ${await r.text()}`);
    shared = { ...s, key: ((await r.json()) as { key: string }).key };
  }

  const body = chatBody(ALLOY_MODELS.openai.model, false);
  const runs = [
    { label: "no key", s: plain, headers: undefined as Record<string, string> | undefined, cpu: [] as number[], rps: [] as number[] },
    { label: "config key", s: configured, headers: { authorization: `Bearer ${configKey}` } as Record<string, string> | undefined, cpu: [] as number[], rps: [] as number[] },
    { label: "virtual key", s: keyed, headers: { authorization: `Bearer ${key}` } as Record<string, string> | undefined, cpu: [] as number[], rps: [] as number[] },
  ];
  if (shared) runs.push({ label: "virtual key, Redis", s: shared, headers: { authorization: `Bearer ${shared.key}` }, cpu: [], rps: [] });
  for (const r of runs) {
    const w = await sendCount({ url: r.s.url, body, connections, requests: 1000, headers: r.headers });
    if (w.failed) throw new Error(`${r.label}: ${w.failed} warm-up requests failed: ${r.s.output().slice(-300)}`);
  }
  for (let round = 0; round < rounds; round++)
    for (const r of rotate(runs, round)) {
      const before = readCpu(r.s.proc.pid);
      const t = performance.now();
      const x = await sendCount({ url: r.s.url, body, connections, requests, headers: r.headers });
      const secs = (performance.now() - t) / 1000;
      if (x.failed) throw new Error(`${r.label}: ${x.failed} requests failed`);
      r.cpu.push((readCpu(r.s.proc.pid) - before) / requests);
      r.rps.push(requests / secs);
      process.stderr.write(`round ${round + 1} ${r.label}: ${r.cpu.at(-1)!.toFixed(0)} µs/call, ${r.rps.at(-1)!.toFixed(0)} req/s\n`);
    }
  await stopAll();
  redis?.kill("SIGKILL");
  const [a, c, b, d] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0], (typeof runs)[0] | undefined];
  console.log(`Virtual-key check, Alloy → OpenAI JSON (median of ${rounds} × ${requests} requests @${connections}, Bun load generator)`);
  console.log("| target | CPU µs/call | req/s | ratio (req/s) |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(`| no key | ${median(a.cpu).toFixed(0)} | ${median(a.rps).toFixed(0)} | |`);
  console.log(`| config key (no limits) | ${median(c.cpu).toFixed(0)} | ${median(c.rps).toFixed(0)} | ${(median(c.rps) / median(a.rps)).toFixed(2)}x |`);
  console.log(`| virtual key (rpm, tpm, budget) | ${median(b.cpu).toFixed(0)} | ${median(b.rps).toFixed(0)} | ${(median(b.rps) / median(a.rps)).toFixed(2)}x |`);
  if (d)
    console.log(
      `| the same, limits in Redis | ${median(d.cpu).toFixed(0)} | ${median(d.rps).toFixed(0)} | ${(median(d.rps) / median(a.rps)).toFixed(2)}x (${(median(d.rps) / median(b.rps)).toFixed(2)}x of in-process) |`,
    );
  else console.log("| the same, limits in Redis | skipped: redis-server not found (install `redis-server`) | | |");
}

if (import.meta.main)
  main().catch(async (e) => {
    console.error(`keys-cpu: failed: ${(e as Error).stack ?? e}`);
    await stopAll(1000);
    process.exit(1);
  });
