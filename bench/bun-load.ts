// A small closed-loop load generator in Bun, for machines without oha or wrk, and for fixed request counts
// (the memory marks). Each connection sends its next request as soon as the previous answer is fully read.
import { summarize, type LoadResult, type LoadSpec } from "./stats.ts";

export interface CountSpec {
  url: string;
  body: string;
  headers?: Record<string, string>;
  connections: number;
  /** Requests taken in turn, one each, instead of url/body: a mixed workload hits every path. */
  mix?: { url: string; body: string; headers?: Record<string, string> }[];
  requests: number;
}

const JSON_HEADERS = { "content-type": "application/json" };

async function one(url: string, body: string, extra?: Record<string, string>): Promise<boolean> {
  const res = await fetch(url, { method: "POST", headers: extra ? { ...JSON_HEADERS, ...extra } : JSON_HEADERS, body });
  await res.arrayBuffer();
  return res.ok;
}

/** Run for spec.seconds on spec.connections connections; latency of every request is recorded. */
export async function bunLoad(spec: LoadSpec): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const start = performance.now();
  const end = start + spec.seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        if (!(await one(spec.url, spec.body, spec.headers))) non2xx++;
        latenciesMs.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  return summarize(latenciesMs, (performance.now() - start) / 1000, errors, non2xx);
}

/** Send exactly spec.requests requests; resolves with how many failed. */
export async function sendCount(spec: CountSpec): Promise<{ failed: number }> {
  const mix = spec.mix ?? [spec];
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < spec.requests) {
      const r = mix[next++ % mix.length]!;
      try {
        if (!(await one(r.url, r.body, r.headers))) failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.connections, spec.requests) }, worker));
  return { failed };
}
