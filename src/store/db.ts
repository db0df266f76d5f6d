// One open database, whichever engine: the Bun SQL client, a write lock, and the transaction flavour each engine
// needs. Everything above this file writes portable SQL through tagged templates.
import { SQL } from "bun";
import { StoreError } from "./error.ts";
import type { StoreTarget } from "./url.ts";

export type Engine = "sqlite" | "postgres";

/**
 * SQLite: how long a writer waits for another process's write lock. Bun's SQLite calls are synchronous, so this wait
 * blocks the event loop; with one Alloy process per file (our own write lock serialises its writers) it never happens.
 */
const SQLITE_BUSY_TIMEOUT_MS = 5000;

export class Db {
  private tail: Promise<unknown> = Promise.resolve();
  /** Statements sent by flushes and admin writes, for stats and for tests that check batching. */
  statements = 0;

  private constructor(
    readonly sql: SQL,
    readonly engine: Engine,
    readonly name: string,
  ) {}

  static async open(t: StoreTarget): Promise<Db> {
    let sql: SQL;
    try {
      sql =
        t.engine === "sqlite"
          ? new SQL({ adapter: "sqlite", filename: t.filename, create: true, readwrite: true })
          : new SQL({
              url: t.url,
              adapter: "postgres",
              // An explicit option, because PGDATABASE would otherwise win over the URL's database.
              database: t.database,
              ...(t.connectTimeoutSecs === undefined ? {} : { connectionTimeout: t.connectTimeoutSecs }),
              max: 10,
            });
    } catch (e) {
      throw new StoreError(`store ${t.name}: ${describe(e)}`, { cause: e });
    }
    const db = new Db(sql, t.engine, t.name);
    try {
      if (t.engine === "sqlite") {
        // WAL: readers (another process's GET) never wait for the writer; busy_timeout: writers queue, not fail.
        const [mode] = await sql`PRAGMA journal_mode = WAL`;
        if (t.filename !== ":memory:" && String(mode?.journal_mode).toLowerCase() !== "wal")
          throw new Error(`cannot enable WAL (journal_mode is ${mode?.journal_mode})`);
        await sql.unsafe(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
        await sql`PRAGMA synchronous = NORMAL`;
      } else {
        await sql`SELECT 1`;
      }
    } catch (e) {
      await sql.close().catch(() => {});
      throw new StoreError(`store ${t.name}: ${describe(e)}`, { cause: e });
    }
    return db;
  }

  /**
   * Run `fn` after every earlier locked call has finished. All writes of one Store go through here: on SQLite a plain
   * query issued while a transaction is open joins that transaction (one connection), and a rollback would take it too.
   */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => {});
    return run;
  }

  /** A write transaction. SQLite: BEGIN IMMEDIATE takes the write lock up front, so two writers never deadlock. */
  tx<T>(fn: (tx: SQL) => Promise<T>): Promise<T> {
    return this.engine === "sqlite" ? this.sql.begin("IMMEDIATE", fn) : this.sql.begin(fn);
  }

  close(): Promise<void> {
    return this.sql.close({ timeout: 5 });
  }
}

/** One line from a driver error, without the connection string (Bun's messages never include it, but be sure). */
export function describe(e: unknown): string {
  const err = e as { message?: string; code?: string; errno?: string | number };
  switch (err?.code) {
    case "ERR_POSTGRES_CONNECTION_REFUSED":
      return "cannot connect (connection refused, or the host does not resolve)";
    case "ERR_POSTGRES_CONNECTION_TIMEOUT":
      return "cannot connect (timed out)";
    case "ERR_POSTGRES_CONNECTION_CLOSED":
      return "the server closed the connection";
  }
  const msg = String(err?.message ?? e).split("\n")[0]!.trim();
  // SQLite's code names the failure (SQLITE_CANTOPEN), its errno is a bare number; PostgreSQL's errno is the SQLSTATE.
  const code = err?.code?.startsWith("SQLITE_") ? err.code : (err?.errno ?? err?.code);
  return code && !msg.includes(String(code)) ? `${msg} (${code})` : msg;
}
