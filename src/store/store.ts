// The store: stored Responses, virtual keys and spend, on SQLite (one process) or PostgreSQL (many replicas), both
// through Bun's SQL client. Request-path writes (responses.put, spend.add) are synchronous enqueues, batched to the
// database off the request path; reads see the queue at once. Admin writes (keys) are immediate.
import { Db, describe } from "./db.ts";
import { StoreError } from "./error.ts";
import { Flusher } from "./flusher.ts";
import { Keys } from "./keys.ts";
import { migrate } from "./migrations.ts";
import { Responses } from "./responses.ts";
import { Spend } from "./spend.ts";
import { parseStoreUrl } from "./url.ts";

export { StoreError } from "./error.ts";
export { redactStoreUrl } from "./url.ts";
export { periodStart, utcDay } from "./spend.ts";
export type { InputItemsQuery } from "./responses.ts";
export * from "./schema.ts";

export interface StoreOptions {
  /** Responses expire this many days after they were created (default 30). */
  retentionDays?: number;
  /** Queued writes wait at most this long (default 50 ms). */
  flushMs?: number;
  /** Responses queued while the database is failing before the oldest are dropped (default 10,000). */
  maxPendingResponses?: number;
  /** Distinct key×provider×model×day spend groups held in memory at most (default 100,000). */
  maxSpendGroups?: number;
  /** How often expired responses are deleted (default 10 min). */
  sweepMs?: number;
  /** The clock (epoch ms); tests pass their own. */
  now?: () => number;
  /** A background flush or sweep failed; its data is kept for the next attempt. */
  onError?: (e: StoreError) => void;
}

export interface StoreStats {
  pendingResponses: number;
  pendingSpendGroups: number;
  /** Responses / spend groups lost because a queue was full (see Responses.put and Spend.add). */
  droppedResponses: number;
  droppedSpend: number;
  /** Background writes that failed (their data stays queued). */
  errors: number;
  /** Statements sent by writes since open, to check batching. */
  statements: number;
}

export interface Store {
  readonly engine: "sqlite" | "postgres";
  /** The URL without its password, for logs. */
  readonly name: string;
  readonly responses: Responses;
  readonly keys: Keys;
  readonly spend: Spend;
  /** Write everything queued now; rejects when the database refuses (the data stays queued). */
  flush(): Promise<void>;
  /** Delete expired responses now (also runs every sweepMs); returns how many went. */
  sweep(): Promise<number>;
  stats(): StoreStats;
  /** Flush (best effort: a failure is reported to onError) and close the connections. */
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

function storeError(name: string, during: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  return new StoreError(`store ${name}: ${during} failed: ${describe(e)}`, { cause: e });
}

/** Open, migrate and start the background flush and sweep; throws a one-line StoreError when it cannot. */
export async function openStore(url: string, o: StoreOptions = {}): Promise<Store> {
  const target = parseStoreUrl(url);
  const now = o.now ?? Date.now;
  const db = await Db.open(target);
  try {
    await migrate(db, now());
  } catch (e) {
    await db.close().catch(() => {});
    throw storeError(target.name, "migration", e);
  }

  let errors = 0;
  const report = (during: string) => (e: unknown) => {
    errors++;
    o.onError?.(storeError(target.name, during, e));
  };
  const flushAll = () =>
    db.locked(async () => {
      // Both, even when the first fails: the database may refuse one table and not the other. One after the other:
      // SQLite has one connection.
      let failed: unknown;
      await responses.flush().catch((e) => (failed ??= e));
      await spend.flush().catch((e) => (failed ??= e));
      if (failed !== undefined) throw failed;
    });
  const flusher = new Flusher(o.flushMs ?? 50, flushAll, report("background flush"));
  const responses = new Responses(db, {
    now,
    retentionMs: (o.retentionDays ?? 30) * DAY_MS,
    maxPending: o.maxPendingResponses ?? 10_000,
    schedule: (full) => flusher.soon(full),
  });
  const spend = new Spend(db, { now, maxGroups: o.maxSpendGroups ?? 100_000, schedule: () => flusher.soon() });
  const keys = new Keys(db, now);

  const sweeper = setInterval(() => responses.sweep().catch(report("expiry sweep")), o.sweepMs ?? 10 * 60_000);
  sweeper.unref?.();

  let closed: Promise<void> | undefined;
  return {
    engine: db.engine,
    name: target.name,
    responses,
    keys,
    spend,
    flush: () => flusher.now().catch((e) => Promise.reject(storeError(target.name, "flush", e))),
    sweep: () => responses.sweep(),
    stats: () => ({
      pendingResponses: responses.queued,
      pendingSpendGroups: spend.queued,
      droppedResponses: responses.dropped,
      droppedSpend: spend.dropped,
      errors,
      statements: db.statements,
    }),
    close: () =>
      (closed ??= (async () => {
        clearInterval(sweeper);
        flusher.stop();
        await flusher.now().catch(report("final flush"));
        await db.close();
      })()),
  };
}
