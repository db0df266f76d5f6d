// Numbers shared by every load tool adapter: one result shape, percentiles and medians.

export interface LoadSpec {
  url: string;
  /** JSON request body, POSTed with content-type application/json. */
  body: string;
  /** Extra request headers (a gateway key). */
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  /** Completed requests (any status). */
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Connect/read/write/timeout failures. */
  errors: number;
  non2xx: number;
}

/** Nearest-rank percentile of an ascending-sorted list; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Median of the finite values (rounds of one measurement); NaN when there are none. */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function summarize(latenciesMs: number[], seconds: number, errors: number, non2xx: number): LoadResult {
  const sorted = latenciesMs.slice().sort((a, b) => a - b);
  return {
    requests: sorted.length,
    seconds,
    rps: sorted.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors,
    non2xx,
  };
}
