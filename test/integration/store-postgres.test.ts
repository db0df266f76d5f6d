// The store on a real PostgreSQL: a throwaway cluster (test/helpers/postgres.ts), the shared suite, and what only
// many replicas on one server have: migrating at once, spend from several writers, an outage in the middle.
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { openStore, StoreError, type Store } from "../../src/store/store.ts";
import { findPgBin, startPostgres, type PgCluster } from "../helpers/postgres.ts";
import { waitFor } from "../helpers/wait.ts";
import { storeSuite, turn } from "./store-suite.ts";

const bin = findPgBin();
const MISSING = "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): install the Debian package `postgresql`";

const onCI = !!process.env.CI && !/^(0|false)$/i.test(process.env.CI);

if (!bin && onCI) {
  test("PostgreSQL is installed (required on CI)", () => {
    throw new Error(`${MISSING}; .ci/run installs it`);
  });
} else if (!bin) {
  console.warn(`store-postgres: SKIPPED, ${MISSING} to run these tests`);
  test.skipIf(true)(`PostgreSQL store tests (skipped: ${MISSING})`, () => {});
} else {
  let pg: PgCluster;
  // initdb and the first start take a few seconds on a loaded 2-core machine.
  beforeAll(async () => {
    pg = await startPostgres(bin);
  }, 60_000);
  afterAll(() => pg?.stop());

  storeSuite("PostgreSQL", { fresh: () => pg.createSchema(), raw: (url) => new SQL(url) });

  describe("store on PostgreSQL: replicas and failures", () => {
    const opened: Store[] = [];
    const open = async (url: string, o: Parameters<typeof openStore>[1] = {}) => {
      const s = await openStore(url, { flushMs: 3_600_000, ...o });
      opened.push(s);
      return s;
    };
    afterAll(() => Promise.all(opened.map((s) => s.close())));

    test("four replicas starting at once on one empty database: no error, each migration applied once", async () => {
      const url = await pg.createDatabase();
      const stores = await Promise.all([1, 2, 3, 4].map(() => open(url)));
      expect(stores).toHaveLength(4);
      const raw = new SQL(url);
      const rows = await raw`SELECT version FROM schema_migrations ORDER BY version`;
      await raw.close();
      expect(rows.map((r: { version: number }) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      // And all four work against the one schema.
      stores.forEach((s, i) => s.responses.put(turn(`resp_r${i}`, null, [], [])));
      await Promise.all(stores.map((s) => s.flush()));
      for (let i = 0; i < 4; i++) expect((await stores[0]!.responses.get(`resp_r${i}`))?.id).toBe(`resp_r${i}`);
    });

    test("spend from two replicas adds up in the same rows", async () => {
      const url = await pg.createDatabase();
      const [a, b] = await Promise.all([open(url), open(url)]);
      const at = Date.UTC(2025, 5, 1, 8);
      for (let i = 0; i < 300; i++) a!.spend.add({ keyId: "key_s", provider: "openai", model: "gpt-4o", costUsd: 0.5, inputTokens: 7, outputTokens: 1, at });
      for (let i = 0; i < 200; i++) b!.spend.add({ keyId: "key_s", provider: "openai", model: "gpt-4o", costUsd: 0.25, inputTokens: 3, outputTokens: 2, at });
      await Promise.all([a!.flush(), b!.flush()]);
      const total = { spendUsd: 200, requests: 500, inputTokens: 2700, outputTokens: 700 };
      expect(await a!.spend.forKey("key_s", "2025-06-01")).toEqual(total);
      expect(await b!.spend.query({ groupBy: "day" })).toEqual([{ group: "2025-06-01", ...total }]);
    });

    test("a write that fails while the server is down stays queued and readable, and lands once it is back", async () => {
      const url = await pg.createDatabase();
      const errors: StoreError[] = [];
      const s = await open(url, { flushMs: 5, onError: (e) => errors.push(e) });
      const raw = new SQL(url);
      try {
        pg.down();
        try {
          s.responses.put(turn("resp_outage", null, [], []));
          s.spend.add({ keyId: "key_o", provider: "openai", model: "gpt-4o", costUsd: 1, inputTokens: 1, outputTokens: 1 });
          await waitFor(() => errors.length > 0, "a failed background flush");
          expect(s.stats()).toMatchObject({ pendingResponses: 1, pendingSpendGroups: 1, droppedResponses: 0, droppedSpend: 0 });
          expect(s.stats().errors).toBeGreaterThan(0);
          expect((await s.responses.get("resp_outage"))?.id).toBe("resp_outage");
          expect(errors[0]).toBeInstanceOf(StoreError);
          expect(errors[0]!.message).toStartWith(`store ${s.name}: background flush failed: `);
          expect(errors[0]!.message).not.toContain(pg.password);
        } finally {
          pg.up();
        }
        await waitFor(() => s.stats().pendingResponses === 0 && s.stats().pendingSpendGroups === 0, "the retried flush", 15_000);
        expect((await raw`SELECT id FROM responses`).map((r: { id: string }) => r.id)).toEqual(["resp_outage"]);
        expect(Number((await raw`SELECT SUM(requests) AS n FROM spend`)[0].n)).toBe(1);
      } finally {
        await raw.close();
      }
    }, 30_000); // a server stop and start

    const fails = async (url: string): Promise<string> => {
      const e = await openStore(url).then(
        (s) => (s.close(), new Error("opened")),
        (e: unknown) => e,
      );
      expect(e).toBeInstanceOf(StoreError);
      const m = (e as Error).message;
      expect(m).not.toContain("\n");
      expect(m).not.toContain(pg.password);
      expect(m).not.toContain("wrong-pw");
      return m;
    };

    test("a wrong password, an unknown database or nothing listening: one StoreError line without the password", async () => {
      const url = await pg.createDatabase();
      const u = new URL(url);
      u.password = "wrong-pw";
      expect(await fails(u.href)).toBe(`store postgres://alloy@127.0.0.1:${pg.port}${u.pathname}: password authentication failed for user "alloy" (28P01)`);
      const nodb = url.replace(/\/[^/]+$/, "/no_such_db");
      expect(await fails(nodb)).toBe(`store postgres://alloy@127.0.0.1:${pg.port}/no_such_db: database "no_such_db" does not exist (3D000)`);
      const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const port = closed.port;
      closed.stop(true);
      expect(await fails(`postgres://alloy:${pg.password}@127.0.0.1:${port}/x`)).toBe(
        `store postgres://alloy@127.0.0.1:${port}/x: cannot connect (connection refused, or the host does not resolve)`,
      );
    });
  });
}
