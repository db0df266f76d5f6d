import { describe, expect, test } from "bun:test";
import { parseStoreUrl, redactStoreUrl } from "../../src/store/url.ts";
import { periodStart, utcDay } from "../../src/store/spend.ts";
import { StoreError } from "../../src/store/error.ts";

describe("store URLs", () => {
  test("sqlite: relative to the working directory, absolute with three slashes, :memory:", () => {
    expect(parseStoreUrl("sqlite://alloy.db", "/srv/app")).toEqual({ engine: "sqlite", filename: "/srv/app/alloy.db", name: "sqlite:///srv/app/alloy.db" });
    expect(parseStoreUrl("sqlite://data/a.db", "/srv")).toMatchObject({ filename: "/srv/data/a.db" });
    expect(parseStoreUrl("sqlite:///var/lib/alloy.db", "/srv")).toMatchObject({ filename: "/var/lib/alloy.db" });
    expect(parseStoreUrl("sqlite://:memory:")).toEqual({ engine: "sqlite", filename: ":memory:", name: "sqlite://:memory:" });
  });

  test("postgres and postgresql: the database passed explicitly, the name without password or query", () => {
    const t = parseStoreUrl("postgres://alloy:s3cr%40t@db.internal:6543/gateway?sslmode=require&password=x");
    expect(t).toMatchObject({ engine: "postgres", database: "gateway", connectTimeoutSecs: 10, name: "postgres://alloy@db.internal:6543/gateway" });
    expect(parseStoreUrl("postgresql://u@h/d?connect_timeout=3")).toMatchObject({ engine: "postgres", database: "d", connectTimeoutSecs: undefined });
  });

  test("anything else throws a StoreError without the password", () => {
    for (const url of ["mysql://u:pw@h/d", "redis://:pw@h", "file:x.db", "x.db", ""]) {
      expect(() => parseStoreUrl(url)).toThrow(StoreError);
      try {
        parseStoreUrl(url);
      } catch (e) {
        expect((e as Error).message).not.toContain("pw");
      }
    }
  });

  test("redactStoreUrl drops the password and the query string", () => {
    expect(redactStoreUrl("postgres://a:b@h:1/d?password=c")).toBe("postgres://a@h:1/d");
    expect(redactStoreUrl("postgres://:b@h/d")).toBe("postgres://@h/d");
    expect(redactStoreUrl("postgres://h/d")).toBe("postgres://h/d");
    expect(redactStoreUrl("weird:pw@x?y")).toBe("weird:pw@x");
  });
});

describe("spend days", () => {
  test("utcDay is the UTC calendar day", () => {
    expect(utcDay(Date.UTC(2025, 0, 31, 23, 59, 59, 999))).toBe("2025-01-31");
    expect(utcDay(Date.UTC(2025, 1, 1))).toBe("2025-02-01");
  });

  test("periodStart: day, ISO week from Monday, month, total", () => {
    const wed = Date.UTC(2025, 0, 15, 10); // Wednesday
    expect(periodStart("daily", wed)).toBe("2025-01-15");
    expect(periodStart("weekly", wed)).toBe("2025-01-13");
    expect(periodStart("weekly", Date.UTC(2025, 0, 19, 23))).toBe("2025-01-13"); // Sunday
    expect(periodStart("weekly", Date.UTC(2025, 0, 13))).toBe("2025-01-13"); // Monday
    expect(periodStart("weekly", Date.UTC(2025, 2, 1))).toBe("2025-02-24"); // across a month
    expect(periodStart("monthly", wed)).toBe("2025-01-01");
    expect(periodStart("total", wed)).toBe("0000-01-01");
  });
});
