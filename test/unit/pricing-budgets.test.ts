// The price table's lookups and arithmetic, the tpm window and budget periods, on a fake clock.
import { describe, expect, test } from "bun:test";
import { Budgets, periodEnd } from "../../src/governance/budgets.ts";
import { KeyLimits } from "../../src/governance/keylimits.ts";
import { PRICES } from "../../src/pricing/prices.ts";
import { periodStart, utcDay } from "../../src/store/spend.ts";
import { costOf, lookup, Pricing } from "../../src/pricing/pricing.ts";
import type { ProviderConfig } from "../../src/config/schema.ts";

const providers = {
  openai: { type: "openai" },
  azure: { type: "openai" },
  claude: { type: "anthropic" },
  aws: { type: "bedrock" },
} as unknown as Record<string, ProviderConfig>;

describe("price table", () => {
  test("every price is a non-negative number per million tokens, for OpenAI, Anthropic and Bedrock", () => {
    for (const type of ["openai", "anthropic", "bedrock"]) expect(Object.keys(PRICES[type]!).length).toBeGreaterThan(5);
    for (const table of Object.values(PRICES))
      for (const p of Object.values(table)) for (const v of [p.input, p.output, p.cacheRead ?? 0, p.cacheWrite ?? 0]) expect(v).toBeGreaterThanOrEqual(0);
  });

  test("exact ids, dated snapshots by their longest prefix, Bedrock's cross-region prefixes", () => {
    expect(lookup(PRICES.openai!, "gpt-4o")).toEqual(PRICES.openai!["gpt-4o"]!);
    expect(lookup(PRICES.openai!, "gpt-4o-mini-2024-07-18")).toBe(PRICES.openai!["gpt-4o-mini"]!);
    expect(lookup(PRICES.openai!, "nothing-like-it")).toBeUndefined();
    const p = new Pricing({}, providers);
    expect(p.price("claude", "claude-sonnet-4-5-20250929")).toEqual({ input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 });
    expect(p.price("aws", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")).toEqual({ input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 });
    // A provider name of another type uses its type's table.
    expect(p.price("azure", "gpt-4.1")).toEqual(PRICES.openai!["gpt-4.1"]!);
    expect(p.price("azure", "constructor")).toBeUndefined();
  });

  test("[pricing] overrides and extends; unpriced models are reported once", () => {
    const unpriced: string[] = [];
    const p = new Pricing({ "openai/gpt-4o": { input: 1, output: 2 }, "mine/m": { input: 3, output: 4, cache_read: 1 } }, providers, (pr, m) => unpriced.push(`${pr}/${m}`));
    expect(p.price("openai", "gpt-4o")).toEqual({ input: 1, output: 2, cacheRead: undefined, cacheWrite: undefined });
    expect(p.price("mine", "m")?.cacheRead).toBe(1);
    expect(p.cost("openai", "x", { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 })).toEqual({ usd: 0, priced: false });
    p.cost("openai", "x", { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
    expect(unpriced).toEqual(["openai/x"]);
  });

  test("cost: plain input, cache reads and writes at their own prices, output", () => {
    const price = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };
    // 1,000,000 prompt tokens of which 200,000 cache reads and 100,000 cache writes, 10,000 output.
    const usd = costOf(price, { prompt_tokens: 1_000_000, completion_tokens: 10_000, total_tokens: 1_010_000, prompt_tokens_details: { cached_tokens: 200_000, cache_write_tokens: 100_000 } as any });
    expect(usd).toBeCloseTo(0.7 * 3 + 0.2 * 0.3 + 0.1 * 3.75 + 0.01 * 15, 12);
    // No cache price: the input price.
    expect(costOf({ input: 2, output: 0 }, { prompt_tokens: 500_000, completion_tokens: 0, total_tokens: 500_000, prompt_tokens_details: { cached_tokens: 500_000 } })).toBe(1);
  });
});

const clock = (t = Date.UTC(2026, 0, 7, 12)) => {
  const c = { t, now: () => c.t };
  return c;
};

describe("tpm", () => {
  test("tokens of the last 60 s; refused at the limit until enough leave the window", () => {
    const c = clock();
    const limits = new KeyLimits(c.now);
    const rule = { label: "k", tpm: 100 };
    const take = () => {
      const a = limits.admit(rule);
      if (a.ok) a.release();
      return a;
    };
    expect(take().ok).toBe(true);
    limits.addTokens(rule, 60);
    c.t += 10_000;
    expect(take().ok).toBe(true);
    limits.addTokens(rule, 50); // 110 in the window
    expect(limits.remaining(rule).tokens).toBe(0);
    const refused = take();
    expect(refused).toEqual({ ok: false, limit: "tpm", retryAfterMs: 50_000 }); // the 60 leave at t0 + 60 s
    c.t += 50_000;
    expect(take().ok).toBe(true);
    expect(limits.remaining(rule).tokens).toBe(50);
    c.t += 10_000;
    expect(limits.remaining(rule).tokens).toBe(100);
  });
});

describe("budgets", () => {
  test("period ends: UTC day, ISO week from Monday, calendar month, never", () => {
    const wed = Date.UTC(2026, 0, 7, 12); // Wednesday
    expect(periodEnd("daily", wed)).toBe(Date.UTC(2026, 0, 8));
    expect(periodEnd("weekly", wed)).toBe(Date.UTC(2026, 0, 12));
    expect(periodEnd("monthly", Date.UTC(2026, 11, 31, 23))).toBe(Date.UTC(2027, 0, 1));
    expect(periodEnd("total", wed)).toBe(Infinity);
  });

  test("admitted below the budget, refused at it; a new period starts from zero; seeding restores spend", () => {
    const c = clock();
    const b = new Budgets(c.now);
    const rule = { label: "k", budgetUsd: 1, budgetPeriod: "daily" as const };
    expect(b.allows(rule)).toBe(true);
    b.add(rule, 0.6);
    expect(b.allows(rule)).toBe(true);
    b.add(rule, 0.4);
    expect(b.allows(rule)).toBe(false);
    c.t = Date.UTC(2026, 0, 8);
    expect(b.allows(rule)).toBe(true);
    b.seed("k", "daily", 5);
    expect(b.allows(rule)).toBe(false);
    expect(b.allows({ label: "free" })).toBe(true);
  });
});

describe("remaining requests", () => {
  test("what is left of rpm in the sliding window", () => {
    const c = clock();
    const limits = new KeyLimits(c.now);
    const rule = { label: "r", rpm: 5 };
    expect(limits.remaining(rule).requests).toBe(5);
    for (let i = 0; i < 3; i++) {
      const a = limits.admit(rule);
      if (a.ok) a.release();
      c.t += 10_000;
    }
    expect(limits.remaining(rule).requests).toBe(2);
    c.t += 31_000; // the first left the window (t0 + 60 s < now)
    expect(limits.remaining(rule).requests).toBe(3);
    c.t += 60_000;
    expect(limits.remaining(rule).requests).toBe(5);
  });
});

describe("spend days", () => {
  test("utcDay turns over at UTC midnight, both ways, and before 1970", () => {
    const midnight = Date.UTC(2026, 11, 2);
    expect(utcDay(midnight - 1)).toBe("2026-12-01");
    expect(utcDay(midnight)).toBe("2026-12-02");
    expect(utcDay(midnight - 1)).toBe("2026-12-01"); // an older timestamp after a newer one (a replayed entry)
    expect(utcDay(Date.UTC(1969, 11, 31, 12))).toBe("1969-12-31");
    expect(periodStart("weekly", Date.UTC(2026, 11, 6, 23))).toBe("2026-11-30"); // a Sunday: the week began Monday
    expect(periodStart("monthly", midnight)).toBe("2026-12-01");
  });
});
