// Budgets: what each key has spent in its current period, in memory (seeded from the store at startup, when a key's
// period changes, and zero for a new key), updated when a request ends. A key is admitted while that spend is below
// its budget; requests in flight when it runs out finish. Behind `BudgetLedger` so a shared implementation can
// replace this one for many replicas.
import type { BudgetPeriod } from "../store/schema.ts";
import { keyId, type KeyRule } from "./keylimits.ts";

export interface BudgetLedger {
  /** Whether this key may start a request now (true for keys without a budget). */
  allows(rule: KeyRule): boolean;
  /** A finished request's cost. */
  add(rule: KeyRule, usd: number): void;
  /** What the key had spent in the period that `at` falls in, from the store. */
  seed(id: string, period: BudgetPeriod, usd: number, at?: number): void;
  /** The current period's spend as counted here. */
  spent(rule: KeyRule): number;
}

/** When the period that `at` falls in ends (epoch ms): UTC days, ISO weeks from Monday, calendar months. */
export function periodEnd(period: BudgetPeriod, at: number): number {
  const d = new Date(at);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  switch (period) {
    case "daily":
      return Date.UTC(y, m, day + 1);
    case "weekly":
      return Date.UTC(y, m, day - ((d.getUTCDay() + 6) % 7) + 7);
    case "monthly":
      return Date.UTC(y, m + 1, 1);
    case "total":
      return Infinity;
  }
}

interface Entry {
  period: BudgetPeriod;
  endsAt: number;
  spent: number;
}

export class Budgets implements BudgetLedger {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  private entry(rule: KeyRule): Entry {
    const id = keyId(rule);
    const period = rule.budgetPeriod ?? "total";
    const now = this.now();
    let e = this.entries.get(id);
    if (!e || e.period !== period || now >= e.endsAt) {
      // A new period starts from zero: everything spent in it so far was counted here.
      e = { period, endsAt: periodEnd(period, now), spent: 0 };
      this.entries.set(id, e);
    }
    return e;
  }

  allows(rule: KeyRule): boolean {
    return rule.budgetUsd === undefined || this.entry(rule).spent < rule.budgetUsd;
  }

  add(rule: KeyRule, usd: number): void {
    if (usd > 0) this.entry(rule).spent += usd;
  }

  seed(id: string, period: BudgetPeriod, usd: number, at = this.now()): void {
    this.entries.set(id, { period, endsAt: periodEnd(period, at), spent: usd });
  }

  spent(rule: KeyRule): number {
    return this.entry(rule).spent;
  }
}
