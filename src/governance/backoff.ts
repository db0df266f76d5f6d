// Exponential backoff with full jitter, upstream Retry-After taking precedence, and an abortable sleep.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Full jitter: a uniform delay in [0, min(max, base * 2^attempt)). `attempt` counts retries from 0. */
export function backoffDelay(p: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Milliseconds an upstream asked us to wait, from `retry-after-ms`, or `retry-after` as seconds or an HTTP date.
 * Undefined when absent or unparseable; never negative.
 */
export function parseRetryAfter(get: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const ms = get("retry-after-ms");
  if (ms) {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  }
  const ra = get("retry-after");
  if (!ra) return undefined;
  const s = ra.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.ceil(Number(s) * 1000);
  const date = Date.parse(s);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The wait before retry number `attempt`: the upstream's Retry-After when given, else jittered backoff. */
export function retryDelay(p: BackoffPolicy, attempt: number, retryAfterMs: number | undefined, random?: () => number): number {
  return retryAfterMs !== undefined ? retryAfterMs : backoffDelay(p, attempt, random);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (no dangling timer). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
