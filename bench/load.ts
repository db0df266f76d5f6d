// Load tool adapters: oha when on PATH, else wrk (installed with apt-get when we are root), else the Bun generator.
// Each adapter runs one closed-loop POST load and returns the same LoadResult.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunLoad } from "./bun-load.ts";
import { tempDir, track } from "./procs.ts";
import type { LoadResult, LoadSpec } from "./stats.ts";

export interface LoadTool {
  /** e.g. "wrk 4.1.0 (1 thread)"; goes into the results header. */
  name: string;
  run(spec: LoadSpec): Promise<LoadResult>;
}

async function exec(cmd: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = track(Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

// ---- wrk -------------------------------------------------------------------------------------------------------

/** Marks the one line of machine-readable output our Lua `done` hook prints. */
const WRK_MARK = "BENCH_RESULT ";

/** A wrk Lua script that POSTs `body` (with extra headers) and prints the summary as one JSON line (latencies in µs). */
export function wrkScript(body: string, headers: Record<string, string> = {}): string {
  let eq = "";
  while (body.includes(`]${eq}]`)) eq += "=";
  const extra = Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join("");
  return `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
${extra}wrk.body = [${eq}[${body}]${eq}]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${WRK_MARK}{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

export function parseWrkResult(stdout: string): LoadResult {
  const line = stdout.split("\n").find((l) => l.startsWith(WRK_MARK));
  if (!line) throw new Error(`wrk printed no result line:\n${stdout.slice(0, 500)}`);
  const r = JSON.parse(line.slice(WRK_MARK.length)) as Record<string, number>;
  const seconds = r.duration_us! / 1e6;
  return {
    requests: r.requests!,
    seconds,
    rps: r.requests! / seconds,
    p50Ms: r.p50_us! / 1000,
    p99Ms: r.p99_us! / 1000,
    errors: r.errors!,
    non2xx: r.non2xx!,
  };
}

function wrkTool(version: string): LoadTool {
  const dir = tempDir("alloy-bench-wrk-");
  const scripts = new Map<string, string>();
  return {
    name: `wrk ${version} (1 thread)`,
    async run(spec) {
      const id = JSON.stringify([spec.body, spec.headers ?? {}]);
      let file = scripts.get(id);
      if (!file) {
        file = join(dir, `post-${scripts.size}.lua`);
        writeFileSync(file, wrkScript(spec.body, spec.headers));
        scripts.set(id, file);
      }
      // One thread: the machine has few cores and every one the load tool takes is stolen from the targets.
      const cmd = ["wrk", "-t1", `-c${spec.connections}`, `-d${spec.seconds}s`, "--timeout", "10s", "-s", file, spec.url];
      const r = await exec(cmd, spec.seconds * 1000 + 30_000);
      if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr || r.stdout}`);
      return parseWrkResult(r.stdout);
    },
  };
}

// ---- oha -------------------------------------------------------------------------------------------------------

/** oha's JSON output (`--output-format json`, or `-j` on older versions); times are in seconds. */
export function parseOhaResult(json: string): LoadResult {
  const o = JSON.parse(json) as {
    summary: { total: number; requestsPerSec: number };
    latencyPercentiles: Record<string, number | null>;
    statusCodeDistribution?: Record<string, number>;
    errorDistribution?: Record<string, number>;
  };
  let ok = 0;
  let non2xx = 0;
  for (const [code, n] of Object.entries(o.statusCodeDistribution ?? {})) (code.startsWith("2") ? (ok += n) : (non2xx += n));
  const errors = Object.values(o.errorDistribution ?? {}).reduce((a, b) => a + b, 0);
  const requests = ok + non2xx;
  return {
    requests,
    seconds: o.summary.total,
    rps: requests / o.summary.total,
    p50Ms: (o.latencyPercentiles.p50 ?? NaN) * 1000,
    p99Ms: (o.latencyPercentiles.p99 ?? NaN) * 1000,
    errors,
    non2xx,
  };
}

function ohaTool(version: string): LoadTool {
  let jsonFlag = ["--output-format", "json"];
  return {
    name: `oha ${version}`,
    async run(spec) {
      const extra = Object.entries(spec.headers ?? {}).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
      const args = (flag: string[]) => ["oha", "--no-tui", ...flag, "-z", `${spec.seconds}s`, "-c", String(spec.connections), "-m", "POST", "-H", "content-type: application/json", ...extra, "-d", spec.body, spec.url];
      let r = await exec(args(jsonFlag), spec.seconds * 1000 + 30_000);
      if (r.code !== 0 && jsonFlag[0] !== "-j") {
        jsonFlag = ["-j"]; // oha before 1.5 only knows -j
        r = await exec(args(jsonFlag), spec.seconds * 1000 + 30_000);
      }
      if (r.code !== 0) throw new Error(`oha failed (${r.code}): ${r.stderr}`);
      return parseOhaResult(r.stdout);
    },
  };
}

// ---- choice ----------------------------------------------------------------------------------------------------

async function versionOf(cmd: string[]): Promise<string | null> {
  if (!Bun.which(cmd[0]!)) return null;
  const r = await exec(cmd, 10_000);
  const m = `${r.stdout} ${r.stderr}`.match(/\d+\.\d+(\.\d+)?/);
  return m ? m[0] : "?";
}

const bunTool = (why: string): LoadTool => ({ name: `Bun load generator (${why})`, run: bunLoad });

/**
 * oha, else wrk (apt-get installing it when root and allowed), else the Bun generator. `force` ("oha", "wrk", "bun")
 * skips the others; `log` explains the choice.
 */
export async function pickLoadTool(opts: { allowInstall: boolean; force?: string; log: (line: string) => void }): Promise<LoadTool> {
  if (opts.force === "bun") return bunTool("BENCH_LOAD_TOOL=bun");
  const oha = opts.force === "wrk" ? null : await versionOf(["oha", "--version"]);
  if (oha) return ohaTool(oha);
  if (opts.force === "oha") throw new Error("BENCH_LOAD_TOOL=oha but oha is not on PATH");
  let wrk = await versionOf(["wrk", "--version"]);
  if (!wrk && opts.allowInstall && process.getuid?.() === 0 && Bun.which("apt-get")) {
    opts.log("wrk not found: installing it with apt-get (BENCH_NO_INSTALL=1 to skip)");
    const up = await exec(["apt-get", "update", "-qq"], 180_000);
    const inst = up.code === 0 ? await exec(["apt-get", "install", "-y", "-qq", "wrk"], 180_000) : up;
    if (inst.code !== 0) opts.log(`apt-get failed, using the Bun load generator: ${inst.stderr.trim().split("\n").pop()}`);
    wrk = await versionOf(["wrk", "--version"]);
  }
  if (wrk) return wrkTool(wrk);
  if (opts.force === "wrk") throw new Error("BENCH_LOAD_TOOL=wrk but wrk is not on PATH");
  return bunTool("no oha or wrk on PATH");
}
