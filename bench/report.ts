// Bench results → the pass/fail checks and the Markdown report. Pure: no I/O, no clock.
import type { Mem } from "./procs.ts";

export interface TargetResult {
  key: string;
  label: string;
  /** Served by an Alloy (gets a row in the ratio tables). */
  alloy: boolean;
  skipped?: string;
  /** Measured against this target's latency instead of direct's (another route's direct run; itself for that run). */
  baseline?: string;
  /** Has a streamed request (a row in the streamed tables). */
  streamed: boolean;
  /** Medians over rounds. */
  rps64: number;
  p50at64: number;
  p99at64: number;
  p50at1: number;
  p99at1: number;
  streamRps64: number;
  ttfcP50: number;
  ttfcP99: number;
  chunksPerSec: number;
  /** CPU (user + system, every thread) of the serving process per request during the @64 runs, µs. */
  cpuUs: number;
  /** The same per streamed request during the streamed @64 runs, µs. */
  streamCpuUs: number;
  /** Failed plus non-2xx requests, summed over all runs. */
  failures: number;
  requests: number;
}

export interface MemResult {
  idle: Mem;
  first: { requests: number; mem: Mem };
  last: { requests: number; mem: Mem };
  /** After the timed rounds too (informational: their load is heavier than the marks'). */
  end?: { requests: number; mem: Mem };
  /** The same marks from a fresh Alloy serving only the OpenAI JSON path (informational). */
  jsonOnly?: { first: { requests: number; mem: Mem }; last: { requests: number; mem: Mem } };
  /** The bare proxy (`bun bench/bare-proxy.ts`) at the same moments: the runtime's own floor, for reference. */
  bare?: { idle: Mem; end?: Mem };
}

export interface KeyRun {
  rps64: number;
  p50at1: number;
  failures: number;
}

export interface BenchResult {
  /** ISO time of the run. */
  when: string;
  meta: { tool: string; mode: string; machine: string; bun: string; streamChunks: number };
  targets: TargetResult[];
  mem?: MemResult;
  /** The virtual-key check on the hot path: the same Alloy → OpenAI JSON request without a key and with one. */
  keys?: { without: KeyRun; with: KeyRun };
  size?: { alloy: number; empty: number };
  notes: string[];
}

export type Verdict = "PASS" | "FAIL" | "N/A";
export interface Check {
  verdict: Verdict;
  name: string;
  detail: string;
}

const MB = 1024 * 1024;
/** RSS between the two memory marks may move by this much (GC timing) and still count as "no growth". */
export const GROWTH_TOLERANCE = 0.1;

const fin = (...xs: number[]) => xs.every(Number.isFinite);
export const fmtMs = (ms: number) => (Number.isFinite(ms) ? (ms < 10 ? ms.toFixed(3) : ms.toFixed(1)) : "–");
export const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
export const fmtMB = (b: number) => (Number.isFinite(b) ? `${(b / MB).toFixed(1)} MB` : "–");
/** "7.5 + 38.8 MB": a compiled binary's file-backed pages depend on the page cache (more right after a build). */
const split = (m: Mem) => (m.anon !== undefined && m.file !== undefined ? `${(m.anon / MB).toFixed(1)} + ${(m.file / MB).toFixed(1)} MB` : "");
/** Added latency with its sign: "+0.048", "-0.010". */
export const fmtDelta = (ms: number) => (Number.isFinite(ms) ? `${ms >= 0 ? "+" : "-"}${fmtMs(Math.abs(ms))}` : "–");
const fmtUs = (us: number) => (Number.isFinite(us) ? us.toFixed(0) : "–");
const fmtX = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : "–");
const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

function byKey(r: BenchResult, key: string): TargetResult | undefined {
  const t = r.targets.find((t) => t.key === key);
  return t && !t.skipped ? t : undefined;
}

/** Added latency of a target over direct, at concurrency 1 (p50). */
export const addedP50 = (t: TargetResult, direct: TargetResult) => t.p50at1 - direct.p50at1;

/** The issue #26 targets, as ratios within one run. */
export const TARGETS = { throughputVsFloor: 0.9, addedP50VsFloor: 1.2, chunksVsBare: 0.85, bedrockCpuVsOpenai: 1.3, idleMB: 45, peakMB: 90 } as const;

/** a ÷ b for added latencies: a floor that adds nothing measurable leaves no ratio, so compare the raw numbers. */
const addedRatio = (a: number, b: number) => (b > 0 ? a / b : a <= 0 ? 1 : Infinity);

export function checks(r: BenchResult): Check[] {
  const out: Check[] = [];
  const add = (ok: boolean | null, name: string, detail: string) => out.push({ verdict: ok === null ? "N/A" : ok ? "PASS" : "FAIL", name, detail });
  const direct = byKey(r, "direct");
  const bare = byKey(r, "bare");
  const floor = byKey(r, "floor");
  const alloy = byKey(r, "alloy-openai");
  const bedrock = byKey(r, "alloy-bedrock");
  const T = TARGETS;

  let name = `Alloy → OpenAI JSON req/s @64 ≥ ${T.throughputVsFloor.toFixed(2)} × the floor`;
  if (alloy && floor && fin(alloy.rps64, floor.rps64)) {
    const ratio = alloy.rps64 / floor.rps64;
    add(ratio >= T.throughputVsFloor, name, `${fmtInt(alloy.rps64)} vs ${fmtInt(floor.rps64)} req/s = ${fmtX(ratio)}`);
  } else add(null, name, "not measured");

  name = `added p50 @1 ≤ ${T.addedP50VsFloor.toFixed(1)} × the floor's`;
  if (alloy && floor && direct && fin(alloy.p50at1, floor.p50at1, direct.p50at1)) {
    const a = addedP50(alloy, direct);
    const f = addedP50(floor, direct);
    const ratio = addedRatio(a, f);
    add(ratio <= T.addedP50VsFloor, name, `Alloy ${fmtDelta(a)} ms vs floor ${fmtDelta(f)} ms = ${fmtX(ratio)}`);
  } else add(null, name, "not measured");

  name = `streamed chunks/s @1 ≥ ${T.chunksVsBare.toFixed(2)} × a bare relay`;
  if (alloy && bare && fin(alloy.chunksPerSec, bare.chunksPerSec)) {
    const ratio = alloy.chunksPerSec / bare.chunksPerSec;
    const at64 = fin(alloy.streamRps64, bare.streamRps64) ? `; @64: ${fmtInt(alloy.streamRps64 * r.meta.streamChunks)} vs ${fmtInt(bare.streamRps64 * r.meta.streamChunks)} chunks/s = ${fmtX(alloy.streamRps64 / bare.streamRps64)}` : "";
    add(ratio >= T.chunksVsBare, name, `${fmtInt(alloy.chunksPerSec)} vs ${fmtInt(bare.chunksPerSec)} chunks/s = ${fmtX(ratio)}${at64}`);
  } else add(null, name, "not measured");

  name = `Alloy → Bedrock CPU per call ≤ ${T.bedrockCpuVsOpenai.toFixed(1)} × Alloy → OpenAI`;
  if (alloy && bedrock && fin(alloy.cpuUs, bedrock.cpuUs) && alloy.cpuUs > 0) {
    const ratio = bedrock.cpuUs / alloy.cpuUs;
    const stream = fin(alloy.streamCpuUs, bedrock.streamCpuUs) && alloy.streamCpuUs > 0 ? `; streamed ${fmtUs(bedrock.streamCpuUs)} vs ${fmtUs(alloy.streamCpuUs)} µs = ${fmtX(bedrock.streamCpuUs / alloy.streamCpuUs)}` : "";
    add(ratio <= T.bedrockCpuVsOpenai, name, `JSON ${fmtUs(bedrock.cpuUs)} vs ${fmtUs(alloy.cpuUs)} µs = ${fmtX(ratio)}${stream}`);
  } else add(null, name, "not measured");

  if (r.mem) {
    const { idle, first, last } = r.mem;
    add(idle.rss <= T.idleMB * MB, `idle RSS ≤ ${T.idleMB} MB`, fmtMB(idle.rss));
    add(last.mem.hwm <= T.peakMB * MB, `peak RSS after ${fmtInt(last.requests)} mixed requests ≤ ${T.peakMB} MB`, `VmHWM ${fmtMB(last.mem.hwm)}`);
    // Informational from here: the older targets (issue #9).
    const growth = last.mem.rss / first.mem.rss - 1;
    add(
      growth <= GROWTH_TOLERANCE,
      `(also) no RSS growth from ${fmtInt(first.requests)} to ${fmtInt(last.requests)} requests`,
      `VmRSS ${fmtMB(first.mem.rss)} → ${fmtMB(last.mem.rss)} (${growth >= 0 ? "+" : ""}${pct(growth)}; tolerance ${pct(GROWTH_TOLERANCE)})`,
    );
  } else {
    add(null, `idle RSS ≤ ${T.idleMB} MB`, "not measured");
    add(null, `peak RSS after the mixed requests ≤ ${T.peakMB} MB`, "not measured");
    add(null, "(also) no RSS growth", "not measured");
  }

  if (r.size) {
    const over = r.size.alloy - r.size.empty;
    add(over <= 5 * MB, "(also) binary ≤ empty compile + 5 MB", `${fmtMB(r.size.alloy)} vs ${fmtMB(r.size.empty)} (+${fmtMB(over)})`);
  } else add(null, "(also) binary ≤ empty compile + 5 MB", "not measured");
  // The same memory marks on the headline path alone.
  const j = r.mem?.jsonOnly;
  if (j) {
    add(j.last.mem.hwm <= T.peakMB * MB, `(also, OpenAI JSON path only) peak RSS after ${fmtInt(j.last.requests)} requests ≤ ${T.peakMB} MB`, `VmHWM ${fmtMB(j.last.mem.hwm)}`);
    const g = j.last.mem.rss / j.first.mem.rss - 1;
    add(
      g <= GROWTH_TOLERANCE,
      `(also, OpenAI JSON path only) no RSS growth from ${fmtInt(j.first.requests)} to ${fmtInt(j.last.requests)} requests`,
      `VmRSS ${fmtMB(j.first.mem.rss)} → ${fmtMB(j.last.mem.rss)} (${g >= 0 ? "+" : ""}${pct(g)})`,
    );
  }
  return out;
}

/** Feature costs: a row against the row it differs from by one thing. */
export const PAIRS: readonly { subject: string; reference: string; what: string }[] = [
  { subject: "alloy-bedrock", reference: "alloy-openai", what: "Bedrock (SigV4, eventstream) vs OpenAI" },
  { subject: "alloy-anthropic", reference: "alloy-openai", what: "Anthropic (translated) vs OpenAI" },
  { subject: "alloy-hedged", reference: "alloy-openai", what: "hedged alias (hedge_after_ms, primary fast) vs provider/model" },
  { subject: "alloy-keyed", reference: "alloy-openai", what: "configured key with rpm vs no keys" },
  { subject: "alloy-openai-traced", reference: "alloy-openai", what: "tracing on (every span over OTLP) vs off" },
  { subject: "alloy-messages-openai", reference: "alloy-messages-native", what: "/v1/messages translated to OpenAI vs native to Anthropic" },
  { subject: "alloy-responses-chat", reference: "alloy-responses-native", what: "/v1/responses translated to chat vs native" },
];

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

/** What a target's added latency is measured against: its own baseline (another route's direct run), else direct. */
function baselineOf(r: BenchResult, t: TargetResult, direct: TargetResult | undefined): TargetResult | undefined {
  if (t.baseline === t.key) return undefined; // it is the baseline
  if (t.baseline !== undefined) return byKey(r, t.baseline);
  return t.key !== "direct" ? direct : undefined;
}

export function renderMarkdown(r: BenchResult): string {
  const direct = byKey(r, "direct");
  const bare = byKey(r, "bare");
  const floor = byKey(r, "floor");
  const out: string[] = [];
  out.push(`# Alloy benchmark, ${r.when}`, "");
  out.push(`- machine: ${r.meta.machine}; Bun ${r.meta.bun}`);
  out.push(`- load tool: ${r.meta.tool}; ${r.meta.mode}`);
  out.push(
    `- every target gets the same ~1 KB chat turn (as Chat Completions, Anthropic Messages or Responses for its route); streamed answers carry ${r.meta.streamChunks} text chunks; latencies in ms; ` +
      "CPU is the serving process's user + system time per request",
    "",
  );

  out.push("## Non-streamed", "");
  out.push(
    table(
      ["target", "req/s @64", "p50 @64", "p99 @64", "p50 @1", "p99 @1", "added p50 @1", "CPU µs/call @64", "failed"],
      r.targets.map((t) => {
        if (t.skipped) return [t.label, `skipped: ${t.skipped}`, "", "", "", "", "", "", ""];
        const base = baselineOf(r, t, direct);
        return [
          t.label,
          fmtInt(t.rps64),
          fmtMs(t.p50at64),
          fmtMs(t.p99at64),
          fmtMs(t.p50at1),
          fmtMs(t.p99at1),
          base ? fmtDelta(addedP50(t, base)) : "",
          fmtUs(t.cpuUs),
          `${fmtInt(t.failures)} / ${fmtInt(t.requests)}`,
        ];
      }),
    ),
    "",
  );

  out.push("## Streamed", "");
  out.push(
    table(
      ["target", "streams/s @64", "TTFC p50 @1", "TTFC p99 @1", "added TTFC p50", "chunks/s @1", "CPU µs/stream @64"],
      r.targets
        .filter((t) => !t.skipped && t.streamed)
        .map((t) => {
          const base = baselineOf(r, t, direct);
          return [t.label, fmtInt(t.streamRps64), fmtMs(t.ttfcP50), fmtMs(t.ttfcP99), base ? fmtDelta(t.ttfcP50 - base.ttfcP50) : "", fmtInt(t.chunksPerSec), fmtUs(t.streamCpuUs)];
        }),
    ),
    "",
  );

  // Every Alloy row against one proxy; added latencies over each row's own direct run, the proxy's over direct.
  const ratios = (ref: TargetResult, cpu: boolean) => {
    const refAdded = addedP50(ref, direct!);
    const refTtfc = ref.ttfcP50 - direct!.ttfcP50;
    const head = ["target", "req/s @64", "p99 @64", "added p50 @1", ...(cpu ? ["CPU/call"] : []), "streams/s @64", "added TTFC p50", "chunks/s @1", ...(cpu ? ["CPU/stream"] : [])];
    const rows = r.targets
      // Chat-sized turns only (embeddings answers are another size).
      .filter((t) => t.alloy && !t.skipped && t.streamed)
      .map((t) => {
        const base = baselineOf(r, t, direct);
        const s = t.streamed;
        return [
          t.label,
          fmtX(t.rps64 / ref.rps64),
          fmtX(t.p99at64 / ref.p99at64),
          base ? fmtX(addedRatio(addedP50(t, base), refAdded)) : "–",
          ...(cpu ? [fmtX(t.cpuUs / ref.cpuUs)] : []),
          s ? fmtX(t.streamRps64 / ref.streamRps64) : "",
          s && base ? fmtX(addedRatio(t.ttfcP50 - base.ttfcP50, refTtfc)) : "",
          s ? fmtX(t.chunksPerSec / ref.chunksPerSec) : "",
          ...(cpu ? [s ? fmtX(t.streamCpuUs / ref.streamCpuUs) : ""] : []),
        ];
      });
    return table(head, rows);
  };
  if (floor && direct) {
    out.push("## Ratios to the floor (a metering proxy: strict decode, parse + re-serialise, usage read; what matters on a noisy machine)", "");
    out.push(ratios(floor, true), "");
  }
  if (bare && direct) {
    out.push("## Ratios to the bare proxy (parse + re-serialise, bytes relayed unread)", "");
    out.push(ratios(bare, false), "");
  }

  const pairs = PAIRS.map((p) => ({ ...p, a: byKey(r, p.subject), b: byKey(r, p.reference) })).filter((p) => p.a && p.b);
  if (pairs.length) {
    out.push("## Feature costs (one row against the row it differs from by one thing)", "");
    out.push(
      table(
        ["comparison", "req/s @64", "p50 @1", "CPU/call", "streams/s @64", "CPU/stream"],
        pairs.map(({ what, a, b }) => [
          what,
          fmtX(a!.rps64 / b!.rps64),
          `${fmtDelta(a!.p50at1 - b!.p50at1)} ms`,
          fmtX(a!.cpuUs / b!.cpuUs),
          a!.streamed && b!.streamed ? fmtX(a!.streamRps64 / b!.streamRps64) : "",
          a!.streamed && b!.streamed ? fmtX(a!.streamCpuUs / b!.streamCpuUs) : "",
        ]),
      ),
      "",
    );
  }

  if (r.keys) {
    const { without: a, with: b } = r.keys;
    out.push("## Virtual keys (Alloy → OpenAI, JSON)", "");
    out.push(
      table(
        ["target", "req/s @64", "p50 @1", "failed", "req/s ratio"],
        [
          ["no key (keys off)", fmtInt(a.rps64), fmtMs(a.p50at1), fmtInt(a.failures), ""],
          ["virtual key (tpm + budget, store on SQLite)", fmtInt(b.rps64), fmtMs(b.p50at1), fmtInt(b.failures), fmtX(b.rps64 / a.rps64)],
        ],
      ),
      "",
    );
  }

  out.push("## Memory and size", "");
  const memRows: string[][] = [];
  if (r.mem) {
    memRows.push(["Alloy idle", fmtMB(r.mem.idle.rss), fmtMB(r.mem.idle.hwm), split(r.mem.idle)]);
    memRows.push([`after ${fmtInt(r.mem.first.requests)} requests (every path, JSON and streamed)`, fmtMB(r.mem.first.mem.rss), fmtMB(r.mem.first.mem.hwm), split(r.mem.first.mem)]);
    memRows.push([`after ${fmtInt(r.mem.last.requests)} requests (same mix)`, fmtMB(r.mem.last.mem.rss), fmtMB(r.mem.last.mem.hwm), split(r.mem.last.mem)]);
    const j = r.mem.jsonOnly;
    if (j) {
      memRows.push([`fresh Alloy, OpenAI JSON only: after ${fmtInt(j.first.requests)}`, fmtMB(j.first.mem.rss), fmtMB(j.first.mem.hwm), split(j.first.mem)]);
      memRows.push([`fresh Alloy, OpenAI JSON only: after ${fmtInt(j.last.requests)}`, fmtMB(j.last.mem.rss), fmtMB(j.last.mem.hwm), split(j.last.mem)]);
    }
    if (r.mem.end) memRows.push([`after the timed rounds (${fmtInt(r.mem.end.requests)} requests)`, fmtMB(r.mem.end.mem.rss), fmtMB(r.mem.end.mem.hwm), split(r.mem.end.mem)]);
    if (r.mem.bare) {
      memRows.push(["bare proxy idle (reference)", fmtMB(r.mem.bare.idle.rss), fmtMB(r.mem.bare.idle.hwm), split(r.mem.bare.idle)]);
      if (r.mem.bare.end) memRows.push(["bare proxy after the timed rounds", fmtMB(r.mem.bare.end.rss), fmtMB(r.mem.bare.end.hwm), split(r.mem.bare.end)]);
    }
  }
  if (r.size) {
    memRows.push(["binary `./alloy`", fmtMB(r.size.alloy), "", ""]);
    memRows.push(["empty `bun build --compile`", fmtMB(r.size.empty), "", ""]);
  }
  out.push(table(["what", "VmRSS / size", "VmHWM (peak)", "VmRSS: anonymous + file-backed"], memRows), "");

  out.push("## Targets (issue #26; the \"(also)\" lines are informational)", "");
  for (const c of checks(r)) out.push(`- **${c.verdict}** ${c.name}: ${c.detail}`);
  out.push("");
  if (r.notes.length) {
    out.push("## Notes", "");
    for (const n of r.notes) out.push(`- ${n}`);
    out.push("");
  }
  return out.join("\n");
}
