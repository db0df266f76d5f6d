import { describe, expect, test } from "bun:test";
import { backoffDelay, parseRetryAfter, retryDelay, sleep } from "../../src/governance/backoff.ts";

const policy = { baseMs: 200, maxMs: 10_000 };

describe("backoff", () => {
  test("full jitter stays within [0, min(max, base*2^n))", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(10_000, 200 * 2 ** attempt);
      expect(backoffDelay(policy, attempt, () => 0)).toBe(0);
      expect(backoffDelay(policy, attempt, () => 0.999999)).toBe(Math.floor(0.999999 * ceiling));
      expect(backoffDelay(policy, attempt, () => 0.5)).toBe(Math.floor(ceiling / 2));
    }
  });

  test("jitter spreads delays over the whole range", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const delays = Array.from({ length: 2000 }, () => backoffDelay(policy, 3, rand));
    const ceiling = 1600;
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(ceiling);
    expect(delays.filter((d) => d < ceiling / 4).length).toBeGreaterThan(300);
    expect(delays.filter((d) => d > (ceiling * 3) / 4).length).toBeGreaterThan(300);
  });

  test("huge attempt numbers are capped, never Infinity", () => {
    expect(backoffDelay(policy, 5000, () => 0.5)).toBe(5000);
  });

  test("Retry-After: seconds, fractional seconds, HTTP date, retry-after-ms, garbage", () => {
    const h = (m: Record<string, string>) => (k: string) => m[k];
    expect(parseRetryAfter(h({ "retry-after": "3" }))).toBe(3000);
    expect(parseRetryAfter(h({ "retry-after": "1.5" }))).toBe(1500);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter(h({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }), now)).toBe(5000);
    expect(parseRetryAfter(h({ "retry-after": "Wed, 31 Dec 2025 23:59:00 GMT" }), now)).toBe(0);
    expect(parseRetryAfter(h({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
    expect(parseRetryAfter(h({ "retry-after": "soon" }))).toBeUndefined();
    expect(parseRetryAfter(h({}))).toBeUndefined();
  });

  test("an upstream Retry-After wins over backoff", () => {
    expect(retryDelay(policy, 0, 4000, () => 0.1)).toBe(4000);
    expect(retryDelay(policy, 0, undefined, () => 0.5)).toBe(100);
  });

  test("sleep is cancelled by its signal at once", async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort(new Error("stop"));
    await expect(p).rejects.toThrow("stop");
  });
});
