import { describe, expect, test } from "bun:test";
import { Balancer, type Deployment } from "../../src/governance/balance.ts";

const a: Deployment = { provider: "a", model: "m", weight: 3 };
const b: Deployment = { provider: "b", model: "m", weight: 1 };

function seeded(seed: number) {
  return () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
}

describe("Balancer", () => {
  test("idle deployments are picked in proportion to their weights", () => {
    const bal = new Balancer({ failures: 3, cooldownMs: 1000, random: seeded(1) });
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 4000; i++) counts[bal.pick([a, b]).provider as "a" | "b"]++;
    expect(counts.a / 4000).toBeGreaterThan(0.7);
    expect(counts.a / 4000).toBeLessThan(0.8);
  });

  test("the least busy (per weight) deployment is preferred", () => {
    const bal = new Balancer({ failures: 3, cooldownMs: 1000, random: seeded(2) });
    bal.begin(a);
    bal.begin(a);
    bal.begin(a);
    bal.begin(a); // a: 4/3 load, b: 0
    expect(bal.pick([a, b])).toBe(b);
  });

  test("repeated failures take a deployment out of rotation, and it comes back after the cooldown", () => {
    let now = 1000;
    const bal = new Balancer({ failures: 2, cooldownMs: 5000, now: () => now, random: seeded(3) });
    for (let i = 0; i < 2; i++) {
      bal.begin(a);
      bal.end(a, "retryable");
    }
    expect(bal.isOpen(a)).toBe(true);
    for (let i = 0; i < 50; i++) expect(bal.pick([a, b])).toBe(b);
    now += 5001;
    expect(bal.isOpen(a)).toBe(false);
    const picks = new Set(Array.from({ length: 50 }, () => bal.pick([a, b]).provider));
    expect(picks.has("a")).toBe(true);
  });

  test("a success resets the failure count; client errors do not count", () => {
    const bal = new Balancer({ failures: 2, cooldownMs: 5000 });
    bal.begin(a);
    bal.end(a, "retryable");
    bal.begin(a);
    bal.end(a, "ok");
    bal.begin(a);
    bal.end(a, "retryable");
    bal.begin(a);
    bal.end(a, "other");
    expect(bal.isOpen(a)).toBe(false);
  });

  test("the deployment that just failed is avoided while another is available", () => {
    const bal = new Balancer({ failures: 9, cooldownMs: 1 });
    for (let i = 0; i < 20; i++) expect(bal.pick([a, b], a)).toBe(b);
    expect(bal.pick([a], a)).toBe(a);
  });

  test("when every deployment is out of rotation, one is still tried", () => {
    const bal = new Balancer({ failures: 1, cooldownMs: 60_000 });
    for (const d of [a, b]) {
      bal.begin(d);
      bal.end(d, "retryable");
    }
    expect([a, b]).toContain(bal.pick([a, b]));
  });
});
