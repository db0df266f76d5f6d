// The store on SQLite files in temp dirs (plus what only SQLite has: paths, WAL, :memory:).
import { afterAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, StoreError } from "../../src/store/store.ts";
import { storeSuite, turn } from "./store-suite.ts";

const dir = mkdtempSync(join(tmpdir(), "alloy-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeSuite("SQLite", {
  fresh: async () => `sqlite://${join(dir, `t${++n}.db`)}`,
  raw: (url) => new SQL({ adapter: "sqlite", filename: url.slice("sqlite://".length) }),
});

describe("store on SQLite: files and URLs", () => {
  test("sqlite://name.db is relative to the working directory and created on first start", async () => {
    const cwd = mkdtempSync(join(dir, "cwd-"));
    const src = join(import.meta.dir, "../../src/store/store.ts");
    const r = Bun.spawnSync(["bun", "-e", `const { openStore } = await import(${JSON.stringify(src)}); await (await openStore("sqlite://alloy.db")).close();`], { cwd, stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(cwd, "alloy.db"))).toBe(true);
  });

  test("sqlite:///abs/path.db opens in WAL mode; a reopened file keeps its rows", async () => {
    const file = join(dir, "wal.db");
    const s = await openStore(`sqlite://${file}`);
    expect(s.name).toBe(`sqlite://${file}`);
    s.responses.put(turn("resp_wal", null, [], []));
    await s.close();
    const raw = new SQL({ adapter: "sqlite", filename: file });
    expect((await raw`PRAGMA journal_mode`)[0].journal_mode).toBe("wal");
    await raw.close();
    const again = await openStore(`sqlite://${file}`);
    expect((await again.responses.get("resp_wal"))?.id).toBe("resp_wal");
    await again.close();
  });

  test("sqlite://:memory: works (nothing kept after close)", async () => {
    const s = await openStore("sqlite://:memory:", { flushMs: 3_600_000 });
    s.responses.put(turn("resp_mem", null, [], []));
    await s.flush();
    expect((await s.responses.get("resp_mem"))?.id).toBe("resp_mem");
    await s.close();
  });

  const fails = async (url: string): Promise<StoreError> => {
    const e = await openStore(url).then(
      (s) => (s.close(), new Error("opened")),
      (e: unknown) => e,
    );
    expect(e).toBeInstanceOf(StoreError);
    expect((e as Error).message).not.toContain("\n");
    return e as StoreError;
  };

  test("a file that cannot be opened is one StoreError line naming it", async () => {
    const missing = join(dir, "no-such-dir", "x.db");
    expect((await fails(`sqlite://${missing}`)).message).toBe(`store sqlite://${missing}: unable to open database file (SQLITE_CANTOPEN)`);
    const file = join(dir, "plain-file");
    writeFileSync(file, "not a directory");
    expect((await fails(`sqlite://${file}/x.db`)).message).toContain(`store sqlite://${file}/x.db: `);
    const garbage = join(dir, "garbage.db");
    writeFileSync(garbage, "this is not a database, just some bytes long enough to have a header".repeat(20));
    expect((await fails(`sqlite://${garbage}`)).message).toMatch(new RegExp(`^store sqlite://${garbage}: .*not a database`));
  });

  test("unsupported or incomplete URLs are one StoreError line, without a password", async () => {
    expect((await fails("mysql://root:hunter2@db/x")).message).toBe(
      "store mysql://root@db/x: unsupported URL (expected sqlite://file.db, sqlite:///abs/path.db, sqlite://:memory: or postgres://user:pass@host:port/db)",
    );
    expect((await fails("alloy.db")).message).toStartWith("store alloy.db: unsupported URL");
    expect((await fails("sqlite://")).message).toStartWith("store sqlite://: no database file");
    expect((await fails("postgres://u:hunter2@/db")).message).toBe("store postgres://u@/db: not a valid URL (expected postgres://user:pass@host:port/db)");
    expect((await fails("postgresql://u:hunter2@host:5432")).message).toBe("store postgresql://u@host:5432: no database name (expected postgres://user:pass@host:port/db)");
  });
});
