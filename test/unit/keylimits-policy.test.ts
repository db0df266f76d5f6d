// Per-key policy without HTTP: the sliding rpm window on an injected clock, concurrency slots, model patterns.
import { describe, expect, test } from "bun:test";
import { KeyLimits, modelAllowed, type Admission } from "../../src/governance/keylimits.ts";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

const ok = (a: Admission) => {
  if (!a.ok) throw new Error(`refused: ${a.limit}`);
  return a;
};

describe("rpm", () => {
  test("exactly rpm requests in any 60 s; the next waits until the oldest leaves the window", () => {
    const c = clock();
    const limits = new KeyLimits(c.now);
    const rule = { label: "k", rpm: 3 };
    ok(limits.admit(rule)).release();
    c.t += 10_000;
    ok(limits.admit(rule)).release();
    c.t += 10_000;
    ok(limits.admit(rule)).release();
    c.t += 5_000;
    const refused = limits.admit(rule);
    expect(refused).toEqual({ ok: false, limit: "rpm", retryAfterMs: 35_000 });
    c.t += 34_999;
    expect(limits.admit(rule).ok).toBe(false);
    c.t += 1;
    ok(limits.admit(rule)).release(); // the first request is a minute old now
    expect(limits.admit(rule)).toEqual({ ok: false, limit: "rpm", retryAfterMs: 10_000 });
  });

  test("no double burst across a minute boundary (sliding, not fixed windows)", () => {
    const c = clock(59_000);
    const limits = new KeyLimits(c.now);
    const rule = { label: "k", rpm: 2 };
    ok(limits.admit(rule));
    ok(limits.admit(rule));
    c.t = 61_000; // a fixed window would have reset at 60 000
    expect(limits.admit(rule).ok).toBe(false);
  });

  test("refused requests consume nothing; keys are counted apart", () => {
    const c = clock();
    const limits = new KeyLimits(c.now);
    const a = { label: "a", rpm: 1 };
    ok(limits.admit(a));
    for (let i = 0; i < 5; i++) expect(limits.admit(a).ok).toBe(false);
    ok(limits.admit({ label: "b", rpm: 1 }));
    c.t += 60_000;
    ok(limits.admit(a));
  });
});

describe("concurrency", () => {
  test("max_concurrent slots; a release frees one; releasing twice frees only one", () => {
    const limits = new KeyLimits(clock().now);
    const rule = { label: "k", maxConcurrent: 2 };
    const x = ok(limits.admit(rule));
    const y = ok(limits.admit(rule));
    expect(limits.admit(rule)).toEqual({ ok: false, limit: "concurrency", retryAfterMs: 1000 });
    expect(limits.inFlight("k")).toBe(2);
    x.release();
    x.release();
    expect(limits.inFlight("k")).toBe(1);
    const z = ok(limits.admit(rule));
    expect(limits.admit(rule).ok).toBe(false);
    y.release();
    z.release();
    expect(limits.inFlight("k")).toBe(0);
  });

  test("a request refused for concurrency does not use up the rpm budget", () => {
    const c = clock();
    const limits = new KeyLimits(c.now);
    const rule = { label: "k", rpm: 2, maxConcurrent: 1 };
    const first = ok(limits.admit(rule));
    expect(limits.admit(rule)).toMatchObject({ ok: false, limit: "concurrency" });
    first.release();
    ok(limits.admit(rule)).release();
    expect(limits.admit(rule)).toMatchObject({ ok: false, limit: "rpm" });
  });
});

describe("model restriction", () => {
  test("no list allows everything", () => {
    expect(modelAllowed(undefined, "anything")).toBe(true);
  });

  test("exact names, prefix patterns, and the provider/model a bare name routes to", () => {
    const allowed = ["smart", "openai/gpt-4o", "mock/echo-*"];
    expect(modelAllowed(allowed, "smart")).toBe(true);
    expect(modelAllowed(allowed, "smarter")).toBe(false);
    expect(modelAllowed(allowed, "openai/gpt-4o")).toBe(true);
    expect(modelAllowed(allowed, "openai/gpt-4o-mini")).toBe(false);
    expect(modelAllowed(allowed, "gpt-4o", "openai/gpt-4o")).toBe(true);
    expect(modelAllowed(allowed, "gpt-4o-mini", "openai/gpt-4o-mini")).toBe(false);
    expect(modelAllowed(allowed, "mock/echo-")).toBe(true);
    expect(modelAllowed(allowed, "mock/echo-1")).toBe(true);
    expect(modelAllowed(allowed, "mock/other")).toBe(false);
    expect(modelAllowed([], "smart")).toBe(false);
  });
});
