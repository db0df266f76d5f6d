#!/usr/bin/env bun
// `bun run bench`: Alloy's cost against the runtime's floor. Starts a mock upstream, a bare Bun proxy, the floor (a
// bare metering proxy) and the compiled ./alloy (plain, traced and keyed), drives them in alternation with one load
// tool, and writes bench/results/<time>.md + latest.md.
//   BENCH_QUICK=1     smoke run (under two minutes)
//   BENCH_NO_INSTALL=1  never apt-get install wrk
//   BENCH_LOAD_TOOL=oha|wrk|bun  use that load tool (default: oha, else wrk, else the Bun generator)
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, type } from "node:os";
import { join } from "node:path";
import { sendCount } from "./bun-load.ts";
import { pickLoadTool, type LoadTool } from "./load.ts";
import { freePort, installCleanup, readCpu, readMem, spawnHelper, spawnServer, stopAll, tempDir, wasInterrupted } from "./procs.ts";
import { benchUpstream } from "./setup.ts";
import { STREAM_TOKENS } from "./replies.ts";
import { checks, renderMarkdown, type BenchResult, type MemResult, type TargetResult } from "./report.ts";
import { median, type LoadResult } from "./stats.ts";
import { SseCounter, streamSeries, type StreamStats } from "./stream-client.ts";
import { buildTargets, isAlloy, jsonMark, keyedConfig, servedRoutes, tracedConfig, type Proc, type Target } from "./targets.ts";

const ROOT = join(import.meta.dir, "..");
const BINARY = join(ROOT, "alloy");
const QUICK = process.env.BENCH_QUICK === "1";

// ~17 rows on 2 cores: a full run takes ~7 minutes, a quick one ~1.5.
const PLAN = QUICK
  ? { rounds: 1, warmRequests: 300, c64Secs: 1, c1Secs: 1, streamSecs: 1, streamSamples: 10, firstMark: 1000, lastMark: 10_000 }
  : { rounds: 3, warmRequests: 1000, c64Secs: 3, c1Secs: 2, streamSecs: 2, streamSamples: 20, firstMark: 1000, lastMark: 100_000 };

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** ./alloy, rebuilt when missing or older than src/ or bun.lock. A failed rebuild of a stale binary is a note. */
function ensureBinary(notes: string[]): void {
  const stale = !existsSync(BINARY) || statSync(BINARY).mtimeMs < Math.max(newestMtime(join(ROOT, "src")), statSync(join(ROOT, "bun.lock")).mtimeMs);
  if (!stale) return;
  log("./alloy is missing or older than src/: bun run build");
  const r = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (r.exitCode === 0) return;
  const why = r.stderr.toString().trim().split("\n").slice(-3).join(" ");
  if (!existsSync(BINARY)) throw new Error(`bun run build failed: ${why}`);
  notes.push(`bun run build failed, so the numbers are for an older ./alloy: ${why}`);
}

/** Size of `bun build --compile` of a one-line program: the runtime every compiled Bun app carries. */
function emptyCompileSize(): number {
  const dir = mkdtempSync(join(tmpdir(), "alloy-bench-empty-"));
  try {
    writeFileSync(join(dir, "empty.ts"), 'console.log("hello");\n');
    const out = join(dir, "empty");
    const r = Bun.spawnSync(["bun", "build", join(dir, "empty.ts"), "--compile", "--minify", "--sourcemap=none", "--outfile", out], { cwd: dir, stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`empty compile failed: ${r.stderr.toString()}`);
    return statSync(out).size;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One JSON and one streamed request; a reason when the target does not answer in its route's dialect. */
async function probe(t: Target): Promise<string | undefined> {
  const post = (body: string) => fetch(t.url, { method: "POST", headers: { "content-type": "application/json", ...t.headers }, body });
  try {
    const res = await post(t.json);
    const text = await res.text();
    if (res.status !== 200 || !text.includes(jsonMark(t))) return `JSON probe got HTTP ${res.status}: ${text.slice(0, 200)}`;
    if (t.stream === undefined) return;
    const s = await post(t.stream);
    const counter = new SseCounter(t.dialect);
    counter.push(await s.text());
    if (s.status !== 200 || counter.chunks < STREAM_TOKENS || !counter.sawEnd)
      return `stream probe got HTTP ${s.status}, ${counter.chunks} ${t.dialect} chunks, ${counter.sawEnd ? "" : "no "}terminal event`;
  } catch (e) {
    return `probe failed: ${(e as Error).message}`;
  }
}

/** Rotate so each round starts with a different target: slow drifts of the machine hit every target alike. */
const rotate = <T>(xs: T[], n: number) => xs.map((_, i) => xs[(i + n) % xs.length]!);

interface Samples {
  /** CPU µs per request of the serving process, per @64 run (JSON, streamed). */
  cpu: number[];
  streamCpu: number[];
  r64: LoadResult[];
  r1: LoadResult[];
  s64: LoadResult[];
  series: StreamStats[];
}

async function main() {
  installCleanup();
  const notes: string[] = [];
  const startedAt = performance.now();
  // Other work on the machine skews absolute numbers (ratios much less): say how busy it was.
  const loadBefore = loadavg()[0]!;
  ensureBinary(notes);
  const tool: LoadTool = await pickLoadTool({ allowInstall: process.env.BENCH_NO_INSTALL !== "1", force: process.env.BENCH_LOAD_TOOL, log });
  log(`load tool: ${tool.name}; ${QUICK ? "quick smoke run" : "full run"}`);

  log("compiling an empty program for the binary size baseline");
  const size = { alloy: statSync(BINARY).size, empty: emptyCompileSize() };

  const { env: childEnv, upstream, url: upstreamUrl, toml, missing } = await benchUpstream(ROOT);
  const bare = await spawnHelper(["bun", join(import.meta.dir, "bare-proxy.ts")], { ...childEnv, UPSTREAM_URL: upstreamUrl });
  const floor = await spawnHelper(["bun", join(import.meta.dir, "floor.ts")], { ...childEnv, UPSTREAM_URL: upstreamUrl });

  const cfgDir = tempDir("alloy-bench-cfg-");
  const cfgFile = join(cfgDir, "config.toml");
  writeFileSync(cfgFile, toml);
  const alloyPort = freePort();
  const alloy = await spawnServer([BINARY, "--config", cfgFile, "--port", String(alloyPort), "--log-level", "warn"], childEnv, alloyPort);
  const pid = alloy.proc.pid;
  const tracedFile = join(cfgDir, "traced.toml");
  writeFileSync(tracedFile, tracedConfig(toml, upstreamUrl));
  const tracedPort = freePort();
  const traced = await spawnServer([BINARY, "--config", tracedFile, "--port", String(tracedPort), "--log-level", "warn"], childEnv, tracedPort);
  const keyedFile = join(cfgDir, "keyed.toml");
  writeFileSync(keyedFile, keyedConfig(toml));
  const keyedPort = freePort();
  const keyed = await spawnServer([BINARY, "--config", keyedFile, "--port", String(keyedPort), "--log-level", "warn"], childEnv, keyedPort);
  const pids: Record<Proc, number> = { upstream: upstream.proc.pid, bare: bare.proc.pid, floor: floor.proc.pid, alloy: pid, traced: traced.proc.pid, keyed: keyed.proc.pid };

  // Idle: started, answered its health checks, nothing else.
  await Bun.sleep(1000);
  const idle = readMem(pid);
  const bareIdle = readMem(bare.proc.pid);
  log(`Alloy idle RSS ${(idle.rss / 1048576).toFixed(1)} MB`);

  const ports = { upstream: upstream.port, bare: bare.port, floor: floor.port, alloy: alloyPort, traced: tracedPort, keyed: keyedPort };
  const targets = buildTargets(ports, missing, servedRoutes(ROOT));
  // Requests the main Alloy (pid) has served: the memory marks are exact counts.
  const onMain = (t: Target) => t.proc === "alloy";
  let alloyRequests = 0;
  for (const t of targets) {
    if (t.skipped) continue;
    t.skipped = await probe(t);
    if (onMain(t)) alloyRequests += t.stream === undefined ? 1 : 2;
  }
  const active = targets.filter((t) => !t.skipped);
  for (const t of targets) if (t.skipped) log(`skipping ${t.label}: ${t.skipped}`);
  const alloyActive = active.filter(onMain);
  if (!active.some((t) => t.key === "alloy-openai")) notes.push("Alloy → OpenAI did not answer, so the issue's targets cannot be judged.");

  // Memory marks use every path of the main Alloy (every route, JSON and streamed), so later traffic exercises no
  // code the first mark missed.
  const mixed = alloyActive.flatMap((t) => [{ url: t.url, body: t.json }, ...(t.stream !== undefined ? [{ url: t.url, body: t.stream }] : [])]);
  let first: MemResult["first"] | undefined;
  if (mixed.length) {
    const n = PLAN.firstMark - alloyRequests;
    const r = await sendCount({ ...mixed[0]!, mix: mixed, connections: 64, requests: n });
    alloyRequests += n;
    if (r.failed) notes.push(`${r.failed} of the first ${n} memory-mark requests failed`);
    first = { requests: alloyRequests, mem: readMem(pid) };
  }

  // The second mark is an exact count of the same mix, before the timed rounds add their (much larger) load.
  let last: MemResult["last"] | undefined;
  if (first) {
    const n = PLAN.lastMark - alloyRequests;
    log(`sending Alloy ${n} more requests for the ${PLAN.lastMark} mark`);
    const r = await sendCount({ ...mixed[0]!, mix: mixed, connections: 64, requests: n });
    alloyRequests += n;
    if (r.failed) notes.push(`${r.failed} of ${n} memory-mark requests failed`);
    last = { requests: alloyRequests, mem: readMem(pid) };
  }

  const samples = new Map<string, Samples>(active.map((t) => [t.key, { cpu: [], streamCpu: [], r64: [], r1: [], s64: [], series: [] }]));
  const failures = new Map<string, number>();
  const count = (t: Target, r: LoadResult) => {
    failures.set(t.key, (failures.get(t.key) ?? 0) + r.errors + r.non2xx);
    if (onMain(t)) alloyRequests += r.requests;
    return r;
  };
  /** A timed run, with the serving process's CPU per completed request. */
  const timed = async (t: Target, body: string, connections: number, seconds: number) => {
    const before = readCpu(pids[t.proc]);
    const r = await tool.run({ url: t.url, body, connections, seconds, ...(t.headers ? { headers: t.headers } : {}) });
    return { r, cpuUs: r.requests ? (readCpu(pids[t.proc]) - before) / r.requests : NaN };
  };
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      notes.push(`${what}: ${(e as Error).message.split("\n")[0]}`);
    }
  };

  for (let round = 0; round < PLAN.rounds; round++) {
    const order = rotate(active, round);
    log(`round ${round + 1}/${PLAN.rounds}: ${order.map((t) => t.key).join(", ")}`);
    // Interleaved per measurement, so a noisy moment lands on every target of that measurement.
    for (const t of order) {
      await sendCount({ url: t.url, body: t.json, ...(t.headers ? { headers: t.headers } : {}), connections: 64, requests: PLAN.warmRequests });
      if (onMain(t)) alloyRequests += PLAN.warmRequests;
    }
    for (const t of order) {
      const x = await guard(`${t.label} @64`, () => timed(t, t.json, 64, PLAN.c64Secs));
      if (x) {
        samples.get(t.key)!.r64.push(count(t, x.r));
        samples.get(t.key)!.cpu.push(x.cpuUs);
      }
    }
    for (const t of order) {
      const x = await guard(`${t.label} @1`, () => timed(t, t.json, 1, PLAN.c1Secs));
      if (x) samples.get(t.key)!.r1.push(count(t, x.r));
    }
    const streamed = order.filter((t): t is Target & { stream: string } => t.stream !== undefined);
    for (const t of streamed) {
      const x = await guard(`${t.label} streamed @64`, () => timed(t, t.stream, 64, PLAN.streamSecs));
      if (x) {
        samples.get(t.key)!.s64.push(count(t, x.r));
        samples.get(t.key)!.streamCpu.push(x.cpuUs);
      }
    }
    for (const t of streamed) {
      const s = await guard(`${t.label} streamed @1`, () => streamSeries(t.url, t.stream, PLAN.streamSamples, t.dialect, t.headers));
      if (s) samples.get(t.key)!.series.push(s);
      if (onMain(t)) alloyRequests += PLAN.streamSamples + 1;
    }
  }

  // The same marks on the headline path alone (OpenAI-compatible, JSON), from a fresh Alloy: the mix above also loads
  // the AWS SDK on its first Bedrock call and holds 64 streams open, which says little about a JSON-only deployment.
  let jsonOnly: MemResult["jsonOnly"];
  const openaiTarget = alloyActive.find((t) => t.key === "alloy-openai");
  if (openaiTarget && first && last) {
    const port2 = freePort();
    const alloy2 = await spawnServer([BINARY, "--config", cfgFile, "--port", String(port2), "--log-level", "warn"], childEnv, port2);
    const url2 = openaiTarget.url.replace(`:${alloyPort}/`, `:${port2}/`);
    log("memory marks on the OpenAI JSON path alone (a fresh Alloy)");
    const r1 = await sendCount({ url: url2, body: openaiTarget.json, connections: 64, requests: first.requests });
    const m1 = readMem(alloy2.proc.pid);
    const r2 = await sendCount({ url: url2, body: openaiTarget.json, connections: 64, requests: last.requests - first.requests });
    const m2 = readMem(alloy2.proc.pid);
    if (r1.failed + r2.failed) notes.push(`${r1.failed + r2.failed} JSON-only memory-mark requests failed`);
    jsonOnly = { first: { requests: first.requests, mem: m1 }, last: { requests: last.requests, mem: m2 } };
    alloy2.proc.kill("SIGTERM");
  }

  // The virtual-key check on the hot path: the same request to a second Alloy where a virtual key (with tpm and a
  // budget, so every per-request step runs) is required, alternated with the keyless Alloy above.
  let keys: BenchResult["keys"];
  if (openaiTarget) keys = await guard("virtual keys", () => keyBench(openaiTarget, cfgFile, childEnv, tool, alloyPort));

  const alive = alloy.proc.exitCode === null;
  const mem: MemResult | undefined =
    first && last
      ? {
          idle,
          first,
          last,
          ...(jsonOnly ? { jsonOnly } : {}),
          ...(alive ? { end: { requests: alloyRequests, mem: readMem(pid) } } : {}),
          bare: { idle: bareIdle, ...(bare.proc.exitCode === null ? { end: readMem(bare.proc.pid) } : {}) },
        }
      : undefined;
  if (alloy.proc.exitCode !== null) notes.push(`Alloy exited during the run (code ${alloy.proc.exitCode}): ${alloy.output().slice(-300)}`);
  const stray = alloy.output().trim();
  if (stray) notes.push(`Alloy logged at warn or above: ${stray.split("\n").slice(-2).join(" / ").slice(0, 300)}`);
  await stopAll();

  const results: TargetResult[] = targets.map((t) => {
    const s = samples.get(t.key);
    const m = (xs: number[] | undefined) => median(xs ?? []);
    return {
      key: t.key,
      label: t.label,
      alloy: isAlloy(t.proc),
      streamed: t.stream !== undefined,
      ...(t.skipped ? { skipped: t.skipped } : {}),
      ...(t.baseline ? { baseline: t.baseline } : {}),
      rps64: m(s?.r64.map((r) => r.rps)),
      p50at64: m(s?.r64.map((r) => r.p50Ms)),
      p99at64: m(s?.r64.map((r) => r.p99Ms)),
      p50at1: m(s?.r1.map((r) => r.p50Ms)),
      p99at1: m(s?.r1.map((r) => r.p99Ms)),
      streamRps64: m(s?.s64.map((r) => r.rps)),
      ttfcP50: m(s?.series.map((x) => x.ttfcP50Ms)),
      ttfcP99: m(s?.series.map((x) => x.ttfcP99Ms)),
      chunksPerSec: m(s?.series.map((x) => x.chunksPerSec)),
      cpuUs: m(s?.cpu),
      streamCpuUs: m(s?.streamCpu),
      failures: failures.get(t.key) ?? 0,
      requests: [...(s?.r64 ?? []), ...(s?.r1 ?? []), ...(s?.s64 ?? [])].reduce((a, r) => a + r.requests, 0),
    };
  });

  const cpu = cpus();
  const elapsed = Math.round((performance.now() - startedAt) / 1000);
  notes.push(
    `Alloy ran as \`./alloy --log-level warn\` (metrics on, the default; its default 512 MB GC heap hint) with BUN_CONFIG_MAX_HTTP_REQUESTS=4096; ` +
      `upstream, bare proxy, floor, the three Alloys and the load tool share the same ${cpu.length} cores; whole run took ${elapsed} s.`,
    `1-minute load average before the run: ${loadBefore.toFixed(2)}, after: ${loadavg()[0]!.toFixed(2)} (above ~0.5 before means other work shared the cores).`,
    `The keyed Alloy has one [server.keys.bench] key with rpm = 100,000 and every request carries it; the traced one exports every span to the bench upstream. ` +
      `CPU per call is the serving process's utime + stime (clock ticks of 10 ms) over a timed run ÷ its requests.`,
  );
  const result: BenchResult = {
    when: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    meta: {
      tool: tool.name,
      mode: QUICK
        ? `quick smoke run (BENCH_QUICK=1): 1 round, ${PLAN.c64Secs} s @64, ${PLAN.c1Secs} s @1 — indicative only`
        : `${PLAN.rounds} rounds (medians), targets alternated; ${PLAN.c64Secs} s @64, ${PLAN.c1Secs} s @1, ${PLAN.streamSecs} s streamed @64, ${PLAN.streamSamples} streams @1 per round`,
      machine: `${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, ${type()} ${release()}`,
      bun: Bun.version,
      streamChunks: STREAM_TOKENS,
    },
    targets: results,
    mem,
    ...(keys ? { keys } : {}),
    size,
    notes,
  };
  const md = renderMarkdown(result);
  const dir = join(import.meta.dir, "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.when.replace(/:/g, "-")}.md`);
  writeFileSync(file, md);
  writeFileSync(join(dir, "latest.md"), md);
  process.stdout.write(`${md}\n`);
  log(`written to ${file} and bench/results/latest.md`);
  // A failed target is a finding, not a broken harness: the exit code says whether the harness itself worked.
  return checks(result);
}

async function keyBench(t: Target, cfgFile: string, env: Record<string, string>, tool: LoadTool, alloyPort: number): Promise<NonNullable<BenchResult["keys"]>> {
  const port = freePort();
  const adminKey = `bench-admin-${crypto.randomUUID()}`;
  const keyed = await spawnServer([BINARY, "--config", cfgFile, "--port", String(port), "--log-level", "warn"], {
    ...env,
    ALLOY_ADMIN_KEY: adminKey,
    ALLOY_STORE_URL: `sqlite://${join(tempDir("alloy-bench-keys-"), "alloy.db")}`,
  }, port);
  const res = await fetch(`http://127.0.0.1:${port}/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ label: "bench", tpm: 1_000_000_000, budget_usd: 1_000_000_000, budget_period: "monthly" }),
  });
  if (res.status !== 201) throw new Error(`POST /admin/keys answered ${res.status}: ${await res.text()}`);
  const headers = { authorization: `Bearer ${((await res.json()) as { key: string }).key}` };
  const keyedUrl = t.url.replace(`:${alloyPort}/`, `:${port}/`);
  const runs = {
    without: { url: t.url, headers: undefined as Record<string, string> | undefined, r64: [] as LoadResult[], r1: [] as LoadResult[] },
    with: { url: keyedUrl, headers: headers as Record<string, string> | undefined, r64: [] as LoadResult[], r1: [] as LoadResult[] },
  };
  log("virtual keys: the same request without a key and with one");
  for (let round = 0; round < PLAN.rounds; round++) {
    const order = rotate([runs.without, runs.with], round);
    for (const r of order) await sendCount({ url: r.url, body: t.json, connections: 64, requests: PLAN.warmRequests, headers: r.headers });
    for (const r of order) r.r64.push(await tool.run({ url: r.url, body: t.json, connections: 64, seconds: PLAN.c64Secs, headers: r.headers }));
    for (const r of order) r.r1.push(await tool.run({ url: r.url, body: t.json, connections: 1, seconds: PLAN.c1Secs, headers: r.headers }));
  }
  keyed.proc.kill("SIGTERM");
  const sum = (r: (typeof runs)["with"]) => ({
    rps64: median(r.r64.map((x) => x.rps)),
    p50at1: median(r.r1.map((x) => x.p50Ms)),
    failures: [...r.r64, ...r.r1].reduce((a, x) => a + x.errors + x.non2xx, 0),
  });
  return { without: sum(runs.without), with: sum(runs.with) };
}

main()
  .then(() => process.exit(0))
  .catch(async (e) => {
    if (wasInterrupted()) return; // the signal handler is already stopping everything and will exit
    process.stderr.write(`bench: failed: ${(e as Error).stack ?? e}\n`);
    await stopAll(1000);
    process.exit(1);
  });
