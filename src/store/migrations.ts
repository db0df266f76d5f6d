// The schema, as numbered steps applied once each and recorded in schema_migrations. Append new steps; never edit
// an applied one. The SQL is the subset both engines accept: JSON as TEXT, money as DOUBLE PRECISION (REAL affinity
// on SQLite), times as BIGINT epoch milliseconds, days as 'YYYY-MM-DD' text (UTC).
import type { SQL } from "bun";
import type { Db } from "./db.ts";

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "responses",
    statements: [
      `CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        previous_response_id TEXT,
        response TEXT NOT NULL
      )`,
      `CREATE INDEX responses_expires_at ON responses (expires_at)`,
      // One row per input item, so input_items pages with order/after/limit in SQL instead of parsing a big array.
      `CREATE TABLE response_items (
        response_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (response_id, position)
      )`,
      `CREATE INDEX response_items_item_id ON response_items (response_id, item_id)`,
    ],
  },
  {
    version: 2,
    name: "keys",
    statements: [
      `CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL,
        models TEXT,
        rpm INTEGER,
        tpm INTEGER,
        max_concurrent INTEGER,
        budget_usd DOUBLE PRECISION,
        budget_period TEXT,
        expires_at BIGINT,
        metadata TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        revoked_at BIGINT
      )`,
      // Replicas that cache keys poll for rows changed since their last look.
      `CREATE INDEX keys_updated_at ON keys (updated_at)`,
    ],
  },
  {
    version: 3,
    name: "spend",
    statements: [
      `CREATE TABLE spend (
        key_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        day TEXT NOT NULL,
        spend_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
        requests BIGINT NOT NULL DEFAULT 0,
        input_tokens BIGINT NOT NULL DEFAULT 0,
        output_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (key_id, provider, model, day)
      )`,
      `CREATE INDEX spend_day ON spend (day)`,
    ],
  },
  {
    version: 4,
    name: "response owners",
    // Who stored a response (the gateway key's stable name; '' without keys): only it may read, chain or delete it.
    statements: [`ALTER TABLE responses ADD COLUMN owner TEXT NOT NULL DEFAULT ''`],
  },
];

/** Any fixed number: every Alloy replica takes the same PostgreSQL advisory lock while it migrates. */
const MIGRATION_LOCK = 7_310_411_201;

/**
 * Apply the steps this database lacks, in one transaction that holds a lock for its whole length: on PostgreSQL a
 * transaction-scoped advisory lock (replicas starting together queue on it; the second sees the first's rows in
 * schema_migrations and applies nothing), on SQLite BEGIN IMMEDIATE (the database's write lock). DDL is
 * transactional on both, so a failed step leaves no half-made schema. Returns the versions it applied.
 */
export async function migrate(db: Db, now: number, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  return db.locked(() =>
    db.tx(async (tx: SQL) => {
      if (db.engine === "postgres") await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`;
      const rows = await tx`SELECT version FROM schema_migrations`;
      const done = new Set(rows.map((r: { version: number | string }) => Number(r.version)));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        // Fixed DDL from this file, no values: unsafe() only because DDL has no parameters.
        for (const s of m.statements) await tx.unsafe(s);
        await tx`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${m.version}, ${m.name}, ${now})`;
        applied.push(m.version);
      }
      return applied;
    }),
  );
}
