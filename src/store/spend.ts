// Spend per (key, provider, model, UTC day). add() sums into memory on the request path; a flush turns every group
// that changed into one row of a multi-row upsert, so a thousand requests cost one statement, not a thousand.
import type { SQL } from "bun";
import type { Db } from "./db.ts";
import type { BudgetPeriod, SpendEntry, SpendGroupBy, SpendRow, SpendTotals } from "./schema.ts";

/** Rows per upsert: 8 parameters each stays far below both engines' parameter limits. */
const ROWS_PER_UPSERT = 500;

interface Group {
  keyId: string;
  provider: string;
  model: string;
  day: string;
  totals: SpendTotals;
}

export interface SpendOptions {
  now: () => number;
  /** Distinct groups held in memory at most (see add). */
  maxGroups: number;
  schedule: () => void;
}

const COLUMN: Record<SpendGroupBy, string> = { key: "key_id", model: "model", provider: "provider", day: "day" };

const DAY_MS = 86_400_000;
// The last day asked for: every request of a day asks for the same one (toISOString was ~1% of a request's CPU).
let lastDay = NaN;
let lastDayText = "";

export function utcDay(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== lastDay) {
    lastDayText = new Date(ms).toISOString().slice(0, 10);
    lastDay = day;
  }
  return lastDayText;
}

/** The first UTC day of the budget period that `at` falls in: weeks start on Monday (ISO), "total" never resets. */
export function periodStart(period: BudgetPeriod, at: number): string {
  const d = new Date(at);
  switch (period) {
    case "daily":
      return utcDay(at);
    case "weekly":
      return utcDay(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7)));
    case "monthly":
      return utcDay(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
    case "total":
      return "0000-01-01";
  }
}

const zero = (): SpendTotals => ({ spendUsd: 0, requests: 0, inputTokens: 0, outputTokens: 0 });

function addInto(t: SpendTotals, d: SpendTotals): void {
  t.spendUsd += d.spendUsd;
  t.requests += d.requests;
  t.inputTokens += d.inputTokens;
  t.outputTokens += d.outputTokens;
}

/** A count from the caller: a negative, fractional or non-finite one would corrupt a sum for good. */
const count = (n: number) => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

export class Spend {
  private pending = new Map<string, Group>();
  /** The group the last add went to (always one of `pending`'s). */
  private last: Group | undefined;
  dropped = 0;

  constructor(
    private readonly db: Db,
    private readonly o: SpendOptions,
  ) {}

  get queued(): number {
    return this.pending.size;
  }

  /**
   * Count one request; never throws, never waits. Amounts for a group already in memory are always kept. A new group
   * past `maxGroups` (the database has been down long enough for that many key×model×day groups to pile up) is
   * dropped and counted in `dropped`: its amount is lost, the ones already held are not.
   */
  add(e: SpendEntry): void {
    const day = utcDay(e.at ?? this.o.now());
    // Most requests land in the group the one before did: four string compares instead of a key built and hashed.
    let g = this.last;
    if (g && g.keyId === e.keyId && g.provider === e.provider && g.model === e.model && g.day === day) {
      this.addTo(g, e);
      return;
    }
    // Key ids and provider names hold no NUL and the day has a fixed width: the parts cannot run together.
    const k = `${e.keyId}\0${e.provider}\0${e.model}\0${day}`;
    g = this.pending.get(k);
    if (!g) {
      if (this.pending.size >= this.o.maxGroups) {
        this.dropped++;
        return;
      }
      g = { keyId: e.keyId, provider: e.provider, model: e.model, day, totals: zero() };
      this.pending.set(k, g);
    }
    this.last = g;
    this.addTo(g, e);
  }

  private addTo(g: Group, e: SpendEntry): void {
    g.totals.spendUsd += Number.isFinite(e.costUsd) && e.costUsd > 0 ? e.costUsd : 0;
    g.totals.requests += 1;
    g.totals.inputTokens += count(e.inputTokens);
    g.totals.outputTokens += count(e.outputTokens);
    this.o.schedule();
  }

  /**
   * Write every changed group; called under the store's write lock. What fails goes back into memory for the next
   * flush. If the connection drops while COMMIT is unanswered we cannot know whether it landed; we retry, and count
   * twice rather than lose spend (budgets err on the side of refusing).
   */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    this.last = undefined; // its group is in `taken` now
    const rows = [...taken.values()].map((g) => ({
      key_id: g.keyId,
      provider: g.provider,
      model: g.model,
      day: g.day,
      spend_usd: g.totals.spendUsd,
      requests: g.totals.requests,
      input_tokens: g.totals.inputTokens,
      output_tokens: g.totals.outputTokens,
    }));
    try {
      await this.db.tx(async (tx: SQL) => {
        for (let i = 0; i < rows.length; i += ROWS_PER_UPSERT) {
          await tx`INSERT INTO spend ${tx(rows.slice(i, i + ROWS_PER_UPSERT))}
            ON CONFLICT (key_id, provider, model, day) DO UPDATE SET
              spend_usd = spend.spend_usd + excluded.spend_usd,
              requests = spend.requests + excluded.requests,
              input_tokens = spend.input_tokens + excluded.input_tokens,
              output_tokens = spend.output_tokens + excluded.output_tokens`;
          this.db.statements++;
        }
      });
    } catch (e) {
      // Merge back (adds that arrived during the attempt are in the new map), bypassing the bound: nothing held is lost.
      for (const [k, g] of taken) {
        const now = this.pending.get(k);
        if (now) addInto(g.totals, now.totals);
        this.pending.set(k, g);
      }
      this.last = undefined; // it may be a group just replaced by its merged one
      throw e;
    }
  }

  /**
   * Totals per key, model, provider or day over [from, to] (UTC days, inclusive), the unwritten amounts included.
   * Under the write lock, so no flush moves amounts from memory to the table while we read both.
   */
  query(q: { groupBy: SpendGroupBy; from?: string; to?: string }): Promise<SpendRow[]> {
    return this.db.locked(async () => {
      const sql = this.db.sql;
      const col = sql(COLUMN[q.groupBy]);
      const rows = await sql`SELECT ${col} AS grp, SUM(spend_usd) AS spend_usd, SUM(requests) AS requests,
          SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens
        FROM spend WHERE day >= ${q.from ?? "0000-01-01"} AND day <= ${q.to ?? "9999-12-31"} GROUP BY ${col}`;
      const out = new Map<string, SpendRow>();
      for (const r of rows as Record<string, unknown>[]) {
        out.set(String(r.grp), {
          group: String(r.grp),
          spendUsd: Number(r.spend_usd),
          requests: Number(r.requests),
          inputTokens: Number(r.input_tokens),
          outputTokens: Number(r.output_tokens),
        });
      }
      for (const g of this.pending.values()) {
        if ((q.from && g.day < q.from) || (q.to && g.day > q.to)) continue;
        const name = q.groupBy === "key" ? g.keyId : q.groupBy === "day" ? g.day : g[q.groupBy];
        let row = out.get(name);
        if (!row) out.set(name, (row = { group: name, ...zero() }));
        addInto(row, g.totals);
      }
      return [...out.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    });
  }

  /** One key's totals from `sinceDay` (inclusive, UTC) on, the unwritten amounts included; see periodStart. */
  forKey(keyId: string, sinceDay: string): Promise<SpendTotals> {
    return this.db.locked(async () => {
      const sql = this.db.sql;
      const [r] = await sql`SELECT COALESCE(SUM(spend_usd), 0) AS spend_usd, COALESCE(SUM(requests), 0) AS requests,
          COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens
        FROM spend WHERE key_id = ${keyId} AND day >= ${sinceDay}`;
      const t: SpendTotals = {
        spendUsd: Number(r?.spend_usd ?? 0),
        requests: Number(r?.requests ?? 0),
        inputTokens: Number(r?.input_tokens ?? 0),
        outputTokens: Number(r?.output_tokens ?? 0),
      };
      for (const g of this.pending.values()) if (g.keyId === keyId && g.day >= sinceDay) addInto(t, g.totals);
      return t;
    });
  }
}
