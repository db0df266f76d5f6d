// Bench results → the pass/fail checks and the Markdown report. Pure: no I/O, no clock.
import type { Mem } from "./procs.ts";

export interface TargetResult {
  key: string;
  label: string;
  /** Served by Alloy (gets a row in the ratio table). */
  alloy: boolean;
  skipped?: string;
  /** Measured against this target's latency instead of direct's (another route; itself for that route's own direct run), and not streamed. */
  baseline?: string;
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

export interface BenchResult {
  /** ISO time of the run. */
  when: string;
  meta: { tool: string; mode: string; machine: string; bun: string; streamChunks: number };
  targets: TargetResult[];
  mem?: MemResult;
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
const fmtX = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : "–");
const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

function byKey(r: BenchResult, key: string): TargetResult | undefined {
  const t = r.targets.find((t) => t.key === key);
  return t && !t.skipped ? t : undefined;
}

/** Added latency of a target over direct, at concurrency 1 (p50). */
export const addedP50 = (t: TargetResult, direct: TargetResult) => t.p50at1 - direct.p50at1;

export function checks(r: BenchResult): Check[] {
  const out: Check[] = [];
  const add = (ok: boolean | null, name: string, detail: string) => out.push({ verdict: ok === null ? "N/A" : ok ? "PASS" : "FAIL", name, detail });
  const direct = byKey(r, "direct");
  const bare = byKey(r, "bare");
  const alloy = byKey(r, "alloy-openai");

  if (alloy && bare && fin(alloy.rps64, bare.rps64)) {
    const ratio = alloy.rps64 / bare.rps64;
    add(ratio >= 0.95, "throughput @64 ≥ 95% of bare proxy", `${fmtInt(alloy.rps64)} vs ${fmtInt(bare.rps64)} req/s = ${pct(ratio)}`);
  } else add(null, "throughput @64 ≥ 95% of bare proxy", "not measured");

  if (alloy && bare && direct && fin(alloy.p50at1, bare.p50at1, direct.p50at1)) {
    const a = addedP50(alloy, direct);
    const b = addedP50(bare, direct);
    // A bare proxy that adds nothing measurable leaves no ratio to take; compare the raw numbers then.
    const ratio = b > 0 ? a / b : a <= 0 ? 1 : Infinity;
    add(ratio <= 1.2, "added p50 @1 within 1.2x of bare proxy", `Alloy ${fmtDelta(a)} ms vs bare ${fmtDelta(b)} ms = ${fmtX(ratio)}`);
  } else add(null, "added p50 @1 within 1.2x of bare proxy", "not measured");

  if (r.mem) {
    const { idle, first, last } = r.mem;
    add(idle.rss <= 45 * MB, "idle RSS ≤ 45 MB", fmtMB(idle.rss));
    add(last.mem.hwm <= 90 * MB, `peak RSS after ${fmtInt(last.requests)} requests ≤ 90 MB`, `VmHWM ${fmtMB(last.mem.hwm)}`);
    const growth = last.mem.rss / first.mem.rss - 1;
    add(
      growth <= GROWTH_TOLERANCE,
      `no RSS growth from ${fmtInt(first.requests)} to ${fmtInt(last.requests)} requests`,
      `VmRSS ${fmtMB(first.mem.rss)} → ${fmtMB(last.mem.rss)} (${growth >= 0 ? "+" : ""}${pct(growth)}; tolerance ${pct(GROWTH_TOLERANCE)})`,
    );
  } else {
    add(null, "idle RSS ≤ 45 MB", "not measured");
    add(null, "peak RSS ≤ 90 MB, no growth", "not measured");
  }

  if (r.size) {
    const over = r.size.alloy - r.size.empty;
    add(over <= 5 * MB, "binary ≤ empty compile + 5 MB", `${fmtMB(r.size.alloy)} vs ${fmtMB(r.size.empty)} (+${fmtMB(over)})`);
  } else add(null, "binary ≤ empty compile + 5 MB", "not measured");
  // Informational, after the six: the same memory marks on the headline path alone.
  const j = r.mem?.jsonOnly;
  if (j) {
    add(j.last.mem.hwm <= 90 * MB, `(OpenAI JSON path only) peak RSS after ${fmtInt(j.last.requests)} requests ≤ 90 MB`, `VmHWM ${fmtMB(j.last.mem.hwm)}`);
    const g = j.last.mem.rss / j.first.mem.rss - 1;
    add(
      g <= GROWTH_TOLERANCE,
      `(OpenAI JSON path only) no RSS growth from ${fmtInt(j.first.requests)} to ${fmtInt(j.last.requests)} requests`,
      `VmRSS ${fmtMB(j.first.mem.rss)} → ${fmtMB(j.last.mem.rss)} (${g >= 0 ? "+" : ""}${pct(g)})`,
    );
  }
  return out;
}

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
  const out: string[] = [];
  out.push(`# Alloy benchmark, ${r.when}`, "");
  out.push(`- machine: ${r.meta.machine}; Bun ${r.meta.bun}`);
  out.push(`- load tool: ${r.meta.tool}; ${r.meta.mode}`);
  out.push(`- every target gets the same ~1 KB chat request; streamed answers carry ${r.meta.streamChunks} text chunks; latencies in ms`, "");

  out.push("## Non-streamed", "");
  out.push(
    table(
      ["target", "req/s @64", "p50 @64", "p99 @64", "p50 @1", "p99 @1", "added p50 @1", "failed"],
      r.targets.map((t) =>
        t.skipped
          ? [t.label, `skipped: ${t.skipped}`, "", "", "", "", "", ""]
          : [
              t.label,
              fmtInt(t.rps64),
              fmtMs(t.p50at64),
              fmtMs(t.p99at64),
              fmtMs(t.p50at1),
              fmtMs(t.p99at1),
              baselineOf(r, t, direct) ? fmtDelta(addedP50(t, baselineOf(r, t, direct)!)) : "",
              `${fmtInt(t.failures)} / ${fmtInt(t.requests)}`,
            ],
      ),
    ),
    "",
  );

  out.push("## Streamed", "");
  out.push(
    table(
      ["target", "streams/s @64", "TTFC p50 @1", "TTFC p99 @1", "added TTFC p50", "chunks/s @1"],
      r.targets
        .filter((t) => !t.skipped && t.baseline === undefined)
        .map((t) => [
          t.label,
          fmtInt(t.streamRps64),
          fmtMs(t.ttfcP50),
          fmtMs(t.ttfcP99),
          direct && t.key !== "direct" ? fmtDelta(t.ttfcP50 - direct.ttfcP50) : "",
          fmtInt(t.chunksPerSec),
        ]),
    ),
    "",
  );

  if (bare && direct) {
    out.push("## Ratios to the bare proxy (what matters on a noisy machine)", "");
    const bareAdded = addedP50(bare, direct);
    const bareTtfc = bare.ttfcP50 - direct.ttfcP50;
    out.push(
      table(
        ["target", "req/s @64", "p99 @64", "added p50 @1", "streams/s @64", "added TTFC p50", "chunks/s @1"],
        r.targets
          .filter((t) => t.alloy && !t.skipped && t.baseline === undefined)
          .map((t) => [
            t.label,
            fmtX(t.rps64 / bare.rps64),
            fmtX(t.p99at64 / bare.p99at64),
            fmtX(addedP50(t, direct) / bareAdded),
            fmtX(t.streamRps64 / bare.streamRps64),
            fmtX((t.ttfcP50 - direct.ttfcP50) / bareTtfc),
            fmtX(t.chunksPerSec / bare.chunksPerSec),
          ]),
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

  out.push("## Issue #9 targets", "");
  for (const c of checks(r)) out.push(`- **${c.verdict}** ${c.name}: ${c.detail}`);
  out.push("");
  if (r.notes.length) {
    out.push("## Notes", "");
    for (const n of r.notes) out.push(`- ${n}`);
    out.push("");
  }
  return out.join("\n");
}
