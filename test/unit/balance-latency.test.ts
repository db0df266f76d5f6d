// Least-latency balancing: the moving average of time to first byte, its decay toward the pool, and power of two
// choices over it (with the breaker still in charge of what is in rotation).
import { describe, expect, test } from "bun:test";
import { Balancer, type Deployment } from "../../src/governance/balance.ts";

const fast: Deployment = { provider: "fast", model: "m", weight: 1 };
const slow: Deployment = { provider: "slow", model: "m", weight: 1 };
const mid: Deployment = { provider: "mid", model: "m", weight: 1 };
const POOL = [fast, mid, slow];

function seeded(seed: number) {
  return () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
}

function balancer(now: () => number, seed = 7, halfLifeMs = 5000) {
  return new Balancer({ failures: 2, cooldownMs: 10_000, now, random: seeded(seed), latencyAlpha: 0.3, latencyHalfLifeMs: halfLifeMs });
}

/** Serve n requests one after another, each taking the deployment's own latency; count who served. */
function serve(bal: Balancer, pool: Deployment[], latency: Record<string, number>, n: number, clock: { t: number }) {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const d = bal.pick(pool, undefined, true);
    counts[d.provider] = (counts[d.provider] ?? 0) + 1;
    bal.begin(d);
    clock.t += latency[d.provider]!;
    bal.observe(d, latency[d.provider]!, pool);
    bal.end(d, "ok");
  }
  return counts;
}

describe("moving average of time to first byte", () => {
  test("the first sample is taken as is; later ones move it by alpha", () => {
    const clock = { t: 0 };
    const bal = balancer(() => clock.t);
    bal.observe(fast, 100, POOL);
    expect(bal.expectedTtfb(fast, [fast])).toBe(100);
    bal.observe(fast, 200, POOL);
    expect(bal.expectedTtfb(fast, [fast])).toBeCloseTo(130, 6);
  });

  test("unsampled, a deployment is expected to be as fast as the pool's mean (0 when nothing is known)", () => {
    const bal = balancer(() => 0);
    expect(bal.expectedTtfb(slow, [fast, slow])).toBe(0);
    bal.observe(fast, 40, POOL);
    bal.observe(mid, 80, POOL);
    expect(bal.expectedTtfb(slow, [fast, mid, slow])).toBe(60);
  });

  test("unsampled for a while, an average decays toward the pool's freshness-weighted mean: half the gap per half-life", () => {
    const clock = { t: 0 };
    const bal = balancer(() => clock.t, 7, 1000);
    const pool = [fast, slow];
    bal.observe(slow, 500, pool);
    clock.t = 1000;
    bal.observe(fast, 100, pool); // first sample: taken as is
    // The mean weighs slow's average half (one half-life older than fast's): (100 + 0.5 × 500) / 1.5.
    const mean = 350 / 1.5;
    expect(bal.expectedTtfb(fast, pool)).toBeCloseTo(100, 6);
    expect(bal.expectedTtfb(slow, pool)).toBeCloseTo(mean + (500 - mean) * 0.5, 6);
    clock.t = 11_000; // ten half-lives on: everything is close to the mean, the fresher one's value
    expect(bal.expectedTtfb(slow, pool)).toBeLessThan(mean + 1);
    expect(Math.abs(bal.expectedTtfb(slow, pool) - bal.expectedTtfb(fast, pool))).toBeLessThan(1);
  });

  test("a sample after a long gap moves the decayed value, not the stale one", () => {
    const clock = { t: 0 };
    const bal = balancer(() => clock.t, 7, 1000);
    const pool = [fast, slow];
    bal.observe(slow, 1000, pool);
    clock.t = 10_000;
    bal.observe(fast, 100, pool);
    const decayed = bal.expectedTtfb(slow, pool); // ten half-lives: ≈ 102, no longer 1000
    expect(decayed).toBeLessThan(105);
    bal.observe(slow, 50, pool);
    expect(bal.expectedTtfb(slow, pool)).toBeCloseTo(0.7 * decayed + 0.3 * 50, 6);
  });
});

describe("power of two choices on latency", () => {
  test("after warm-up at least 80% of sequential traffic goes to the fast deployment", () => {
    const clock = { t: 0 };
    const bal = balancer(() => clock.t, 11);
    const counts = serve(bal, [fast, slow], { fast: 20, slow: 200 }, 200, clock);
    expect(counts.fast! / 200).toBeGreaterThanOrEqual(0.8);
    expect(counts.slow ?? 0).toBeGreaterThanOrEqual(1); // warm-up tried it
  });

  test("with three deployments the two candidates are drawn at random and the faster wins", () => {
    const clock = { t: 0 };
    const bal = balancer(() => clock.t, 5);
    const counts = serve(bal, [fast, mid, slow], { fast: 20, mid: 60, slow: 300 }, 300, clock);
    // P2C: the slowest is never the better of two, the fastest wins whenever drawn.
    expect(counts.fast!).toBeGreaterThan(counts.mid!);
    expect(counts.slow ?? 0).toBeLessThan(10);
  });

  test("in-flight requests raise a deployment's cost, so concurrent load spills over to the next fastest", () => {
    const bal = balancer(() => 0);
    bal.observe(fast, 20, POOL);
    bal.observe(slow, 50, POOL);
    expect(bal.pick([fast, slow], undefined, true)).toBe(fast);
    bal.begin(fast);
    bal.begin(fast); // 20 × 3 > 50
    expect(bal.pick([fast, slow], undefined, true)).toBe(slow);
  });

  test("near-equal deployments share the traffic instead of herding onto one", () => {
    const bal = balancer(() => 0, 3);
    bal.observe(fast, 100, POOL);
    bal.observe(mid, 105, POOL);
    const counts = { fast: 0, mid: 0 } as Record<string, number>;
    for (let i = 0; i < 400; i++) counts[bal.pick([fast, mid], undefined, true).provider]!++;
    expect(counts.fast! / 400).toBeGreaterThan(0.4);
    expect(counts.fast! / 400).toBeLessThan(0.6);
  });

  test("the breaker still applies: a failing fast deployment is out of rotation, then comes back by itself", () => {
    const clock = { t: 0 };
    const bal = balancer(() => clock.t, 9);
    serve(bal, [fast, slow], { fast: 20, slow: 200 }, 20, clock);
    for (let i = 0; i < 2; i++) {
      bal.begin(fast);
      bal.end(fast, "retryable"); // failures give no latency sample: a fast 500 must not look fast
    }
    expect(bal.isOpen(fast)).toBe(true);
    expect(serve(bal, [fast, slow], { fast: 20, slow: 200 }, 20, clock)).toEqual({ slow: 20 });
    clock.t += 10_001; // cooldown over
    const after = serve(bal, [fast, slow], { fast: 20, slow: 200 }, 20, clock);
    expect(after.fast!).toBeGreaterThanOrEqual(16);
  });

  test("a deployment that was slow and recovered is tried again once its average has decayed, and wins back the traffic", () => {
    const clock = { t: 0 };
    const bal = balancer(() => clock.t, 13, 1000);
    const latency = { fast: 300, slow: 30 }; // "fast" is slow for now
    serve(bal, [fast, slow], latency, 30, clock);
    expect(serve(bal, [fast, slow], latency, 30, clock)).toEqual({ slow: 30 });
    latency.fast = 10; // it recovered, but nobody is asking it
    let counts: Record<string, number> = {};
    for (let round = 0; round < 40 && !counts.fast; round++) {
      clock.t += 500;
      counts = serve(bal, [fast, slow], latency, 5, clock);
    }
    expect(counts.fast ?? 0).toBeGreaterThan(0); // decay brought it back into play
    expect(serve(bal, [fast, slow], latency, 50, clock).fast!).toBeGreaterThanOrEqual(40);
  });

  test("a single deployment is returned as is; weighted picking is unchanged without least latency", () => {
    const bal = balancer(() => 0);
    bal.observe(fast, 1, POOL);
    bal.observe(slow, 1000, POOL);
    expect(bal.pick([slow], undefined, true)).toBe(slow);
    const counts = { fast: 0, slow: 0 } as Record<string, number>;
    for (let i = 0; i < 400; i++) counts[bal.pick([fast, slow]).provider]!++;
    expect(counts.slow!).toBeGreaterThan(100);
  });
});
