// The store's behaviour, the same on every engine: store-sqlite.test.ts and store-postgres.test.ts run it against a
// real database each. `fresh()` gives the URL of a new, empty database; `raw(url)` a plain client to look behind the
// store's back (to prove that something was or was not written yet).
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { afterEach, describe, expect, test } from "bun:test";
import type { SQL } from "bun";
import { waitFor } from "../helpers/wait.ts";
import { openStore, type Item, type ResponseRecord, type Store, type StoreOptions } from "../../src/store/store.ts";

export interface Engine {
  fresh(): Promise<string>;
  raw(url: string): SQL;
}

/** A flush interval no test reaches: data is written only when the test awaits flush() or close(). */
const NEVER = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

export function msg(role: string, text: string, id?: string): Item {
  return { type: "message", role, content: [{ type: role === "user" ? "input_text" : "output_text", text }], ...(id ? { id } : {}) };
}

export function turn(id: string, prev: string | null, input: Item[], output: Item[], createdAt?: number): ResponseRecord {
  return {
    id,
    createdAt,
    model: "gpt-4o",
    provider: "openai",
    previousResponseId: prev,
    response: { id, object: "response", status: "completed", model: "gpt-4o", output },
    input,
  };
}

export function storeSuite(label: string, engine: Engine): void {
  const open: Store[] = [];
  const raws: SQL[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await Promise.all(raws.splice(0).map((r) => r.close()));
  });
  const store = async (url: string, o: StoreOptions = {}) => {
    const s = await openStore(url, { flushMs: NEVER, ...o });
    open.push(s);
    return s;
  };
  const raw = (url: string) => {
    const r = engine.raw(url);
    raws.push(r);
    return r;
  };
  const count = async (r: SQL, table: "responses" | "response_items" | "keys" | "spend") =>
    Number((await r`SELECT COUNT(*) AS n FROM ${r(table)}`)[0].n);

  describe(`store on ${label}`, () => {
    test("migrates an empty database once; reopening applies nothing and keeps the data", async () => {
      const url = await engine.fresh();
      const s1 = await store(url);
      const r = raw(url);
      const applied = await r`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`;
      expect(applied.map((m: { version: number }) => Number(m.version))).toEqual(MIGRATIONS.map((m) => m.version));
      for (const t of ["responses", "response_items", "keys", "spend"] as const) expect(await count(r, t)).toBe(0);
      s1.responses.put(turn("resp_keep", null, [msg("user", "hi")], [msg("assistant", "hello")]));
      await s1.keys.create({ digest: "d-keep", label: "keep" });
      s1.spend.add({ keyId: "k", provider: "openai", model: "gpt-4o", costUsd: 0.5, inputTokens: 3, outputTokens: 4 });
      await s1.close(); // flushes

      const s2 = await store(url);
      const again = await r`SELECT version, applied_at FROM schema_migrations ORDER BY version`;
      expect(again.map((m: { applied_at: unknown }) => Number(m.applied_at))).toEqual(applied.map((m: { applied_at: unknown }) => Number(m.applied_at)));
      expect((await s2.responses.get("resp_keep"))?.response.output).toEqual([msg("assistant", "hello")]);
      expect((await s2.keys.byDigest("d-keep"))?.label).toBe("keep");
      expect(await s2.spend.forKey("k", "0000-01-01")).toEqual({ spendUsd: 0.5, requests: 1, inputTokens: 3, outputTokens: 4 });
    });

    test("put is readable at once, before any write; after the flush another Store on the database reads it", async () => {
      const url = await engine.fresh();
      const s1 = await store(url, { now: () => T0 });
      const r = raw(url);
      s1.responses.put(turn("resp_1", null, [msg("user", "q", "msg_in")], [msg("assistant", "a", "msg_out")], T0));
      const got = await s1.responses.get("resp_1");
      expect(got).toMatchObject({ id: "resp_1", createdAt: T0, expiresAt: T0 + 30 * DAY, model: "gpt-4o", provider: "openai", previousResponseId: null });
      expect(got?.response.output).toEqual([msg("assistant", "a", "msg_out")]);
      expect(await count(r, "responses")).toBe(0); // not written: served from the queue
      expect(s1.stats().pendingResponses).toBe(1);

      await s1.flush();
      expect(s1.stats().pendingResponses).toBe(0);
      expect(await count(r, "responses")).toBe(1);
      expect(await count(r, "response_items")).toBe(1);
      const s2 = await store(url, { now: () => T0 });
      expect(await s2.responses.get("resp_1")).toEqual(got!);
      expect((await s2.responses.inputItems("resp_1"))?.data).toEqual([msg("user", "q", "msg_in")]);
      expect(await s2.responses.get("resp_unknown")).toBeNull();
    });

    test("the background flush writes within flushMs without being asked", async () => {
      const url = await engine.fresh();
      const s = await store(url, { flushMs: 5 });
      s.responses.put(turn("resp_bg", null, [msg("user", "q")], []));
      await waitFor(() => s.stats().pendingResponses === 0, "the background flush");
      expect(await count(raw(url), "responses")).toBe(1);
    });

    test("delete: queued or written, it is gone for get, inputItems and chain; a second delete says false", async () => {
      const url = await engine.fresh();
      const s = await store(url);
      s.responses.put(turn("resp_a", null, [msg("user", "1")], [msg("assistant", "1")]));
      await s.flush();
      s.responses.put(turn("resp_b", "resp_a", [msg("user", "2")], [msg("assistant", "2")]));
      s.responses.put(turn("resp_c", "resp_b", [msg("user", "3")], [msg("assistant", "3")]));

      expect(await s.responses.delete("resp_c")).toBe(true); // still queued
      expect(await s.responses.get("resp_c")).toBeNull();
      expect(await s.responses.delete("resp_a")).toBe(true); // written
      expect(await s.responses.get("resp_a")).toBeNull();
      expect(await s.responses.inputItems("resp_a")).toBeNull();
      expect(await s.responses.chain("resp_a")).toBeNull();
      expect(await s.responses.delete("resp_a")).toBe(false);
      expect(await s.responses.delete("resp_never")).toBe(false);

      await s.flush();
      // The deleted predecessor ends the chain: only resp_b's own turn is left.
      expect(await s.responses.chain("resp_b")).toEqual([msg("user", "2", "itm_resp_b_0"), msg("assistant", "2")]);
      const other = await store(url);
      expect(await other.responses.get("resp_c")).toBeNull(); // the flush did not bring it back
      expect(await other.responses.get("resp_a")).toBeNull();
      expect(await other.responses.delete("resp_b")).toBe(true);
      expect(await s.responses.get("resp_b")).toBeNull(); // deleted by the other Store, seen here
      const r = raw(url);
      expect(await count(r, "responses")).toBe(0);
      expect(await count(r, "response_items")).toBe(0);
    });

    test("a response is found only by its owner, queued and written; another owner's delete touches nothing", async () => {
      const url = await engine.fresh();
      const s = await store(url);
      const rec = (id: string, prev: string | null, owner: string) => ({ ...turn(id, prev, [msg("user", id)], [msg("assistant", `re ${id}`)]), owner });
      s.responses.put(rec("resp_own1", null, "key_a"));
      s.responses.put(rec("resp_own2", "resp_own1", "key_a"));
      for (const phase of ["queued", "written"]) {
        if (phase === "written") await s.flush();
        expect((await s.responses.get("resp_own1", "key_a"))?.owner).toBe("key_a");
        expect(await s.responses.get("resp_own1", "key_b")).toBeNull();
        expect(await s.responses.get("resp_own1")).toBeNull();
        expect(await s.responses.inputItems("resp_own1", {}, "key_b")).toBeNull();
        expect(await s.responses.chain("resp_own2", "key_b")).toBeNull();
        expect((await s.responses.chain("resp_own2", "key_a"))?.length).toBe(4);
        expect(await s.responses.delete("resp_own2", "key_b")).toBe(false);
        expect((await s.responses.get("resp_own2", "key_a"))?.id).toBe("resp_own2");
      }
      expect(await s.responses.delete("resp_own2", "key_a")).toBe(true);
    });

    test("inputItems: newest first by default, order=asc, after and limit, the same queued and written", async () => {
      const url = await engine.fresh();
      const s = await store(url);
      const input = ["m1", "m2", "m3", "m4", "m5"].map((id) => msg("user", id, id));
      s.responses.put(turn("resp_items", null, input, []));
      const ids = (p: { data: Item[] } | null) => p?.data.map((i) => i.id);
      for (const phase of ["queued", "written"]) {
        if (phase === "written") {
          await s.flush();
          expect(s.stats().pendingResponses).toBe(0);
        }
        const all = await s.responses.inputItems("resp_items");
        expect(ids(all)).toEqual(["m5", "m4", "m3", "m2", "m1"]);
        expect(all).toMatchObject({ firstId: "m5", lastId: "m1", hasMore: false });
        const asc = await s.responses.inputItems("resp_items", { order: "asc", limit: 2 });
        expect(ids(asc)).toEqual(["m1", "m2"]);
        expect(asc).toMatchObject({ firstId: "m1", lastId: "m2", hasMore: true });
        expect(ids(await s.responses.inputItems("resp_items", { order: "asc", after: "m2", limit: 2 }))).toEqual(["m3", "m4"]);
        const tail = await s.responses.inputItems("resp_items", { order: "asc", after: "m4", limit: 2 });
        expect(ids(tail)).toEqual(["m5"]);
        expect(tail?.hasMore).toBe(false);
        expect(ids(await s.responses.inputItems("resp_items", { after: "m4", limit: 2 }))).toEqual(["m3", "m2"]);
        expect(ids(await s.responses.inputItems("resp_items", { after: "m1" }))).toEqual([]);
        expect(ids(await s.responses.inputItems("resp_items", { after: "nope" }))).toEqual([]);
        expect(await s.responses.inputItems("resp_missing")).toBeNull();
      }
    });

    test("items without an id get a stable one, the same queued and written", async () => {
      const url = await engine.fresh();
      const s = await store(url);
      s.responses.put(turn("resp_noid", null, [msg("user", "a"), { type: "function_call_output", call_id: "c1", output: "42" }], []));
      const before = await s.responses.inputItems("resp_noid", { order: "asc" });
      await s.flush();
      const after = await s.responses.inputItems("resp_noid", { order: "asc" });
      expect(before?.data.map((i) => i.id)).toEqual(["itm_resp_noid_0", "itm_resp_noid_1"]);
      expect(after).toEqual(before!);
    });

    test("chain across 3 turns: every turn's input then output, oldest first, queued, written and mixed", async () => {
      const url = await engine.fresh();
      const s = await store(url);
      const u = (n: number) => msg("user", `u${n}`, `u${n}`);
      const a = (n: number) => ({ type: "function_call", id: `fc${n}`, call_id: `c${n}`, name: "f", arguments: "{}" });
      const expected = [u(1), a(1), u(2), a(2), u(3), a(3)];
      s.responses.put(turn("resp_t1", null, [u(1)], [a(1)]));
      s.responses.put(turn("resp_t2", "resp_t1", [u(2)], [a(2)]));
      await s.flush(); // t1, t2 written
      s.responses.put(turn("resp_t3", "resp_t2", [u(3)], [a(3)])); // t3 queued
      expect(await s.responses.chain("resp_t3")).toEqual(expected);
      expect(await s.responses.chain("resp_t1")).toEqual([u(1), a(1)]);
      await s.flush();
      expect(await s.responses.chain("resp_t3")).toEqual(expected);
      const other = await store(url);
      expect(await other.responses.chain("resp_t3")).toEqual(expected);
      expect(await other.responses.chain("resp_none")).toBeNull();
    });

    test("expiry: past expires_at a response is invisible, queued or written, and the sweep deletes it", async () => {
      const url = await engine.fresh();
      let now = T0;
      const s = await store(url, { retentionDays: 1, now: () => now });
      const r = raw(url);
      s.responses.put(turn("resp_old", null, [msg("user", "old")], [msg("assistant", "old")]));
      await s.flush();
      now = T0 + DAY / 2;
      s.responses.put(turn("resp_new", "resp_old", [msg("user", "new")], [msg("assistant", "new")]));
      s.responses.put(turn("resp_queued_old", null, [msg("user", "q")], [])); // created now, expires at T0 + 1.5 days
      expect(await s.responses.get("resp_old")).not.toBeNull();

      now = T0 + DAY; // resp_old expires exactly now
      expect(await s.responses.get("resp_old")).toBeNull();
      expect(await s.responses.inputItems("resp_old")).toBeNull();
      expect(await s.responses.chain("resp_old")).toBeNull();
      expect(await s.responses.chain("resp_new")).toEqual([msg("user", "new", "itm_resp_new_0"), msg("assistant", "new")]);
      expect(await s.responses.delete("resp_old")).toBe(false);
      s.responses.put(turn("resp_x", null, [], [])); // deleted rows are gone; put one more so the sweep has work
      await s.flush();

      now = T0 + 1.75 * DAY;
      expect(await s.responses.get("resp_queued_old")).toBeNull();
      expect(await s.responses.get("resp_x")).not.toBeNull();
      expect(await s.sweep()).toBe(2); // resp_new, resp_queued_old
      expect((await r`SELECT id FROM responses`).map((x: { id: string }) => x.id)).toEqual(["resp_x"]);
      expect(await count(r, "response_items")).toBe(0);
    });

    test("past maxPendingResponses the oldest queued response is dropped and counted", async () => {
      const url = await engine.fresh();
      const s = await store(url, { maxPendingResponses: 3 });
      for (let i = 1; i <= 5; i++) s.responses.put(turn(`resp_q${i}`, null, [], []));
      expect(s.stats()).toMatchObject({ pendingResponses: 3, droppedResponses: 2 });
      expect(await s.responses.get("resp_q1")).toBeNull();
      expect(await s.responses.get("resp_q2")).toBeNull();
      expect(await s.responses.get("resp_q5")).not.toBeNull();
    });

    test("past maxSpendGroups a new group is dropped and counted; groups already held keep adding", async () => {
      const url = await engine.fresh();
      const s = await store(url, { maxSpendGroups: 2 });
      const add = (model: string) => s.spend.add({ keyId: "k", provider: "p", model, costUsd: 1, inputTokens: 0, outputTokens: 0 });
      add("m1");
      add("m2");
      add("m3"); // a third group: dropped
      add("m1"); // an existing group: kept
      expect(s.stats()).toMatchObject({ pendingSpendGroups: 2, droppedSpend: 1 });
      await s.flush();
      expect((await s.spend.query({ groupBy: "model" })).map((r) => [r.group, r.spendUsd])).toEqual([["m1", 2], ["m2", 1]]);
    });

    test("a second put of one id replaces it (queued and written)", async () => {
      const url = await engine.fresh();
      const s = await store(url);
      s.responses.put(turn("resp_r", null, [msg("user", "v1", "i1")], [msg("assistant", "v1")]));
      s.responses.put(turn("resp_r", null, [msg("user", "v2", "i2")], [msg("assistant", "v2")]));
      expect((await s.responses.get("resp_r"))?.response.output).toEqual([msg("assistant", "v2")]);
      await s.flush();
      s.responses.put(turn("resp_r", null, [msg("user", "v3", "i3")], [msg("assistant", "v3")]));
      await s.flush();
      const other = await store(url);
      expect((await other.responses.get("resp_r"))?.response.output).toEqual([msg("assistant", "v3")]);
      expect((await other.responses.inputItems("resp_r"))?.data).toEqual([msg("user", "v3", "i3")]);
    });

    test("spend: many adds become one upsert per flush, totals exact, queued amounts counted in queries", async () => {
      const url = await engine.fresh();
      let now = T0;
      const s = await store(url, { now: () => now });
      const add = (keyId: string, model: string, costUsd: number, provider = "openai") =>
        s.spend.add({ keyId, provider, model, costUsd, inputTokens: 10, outputTokens: 2 });
      for (let i = 0; i < 1000; i++) add("key_a", "gpt-4o", 0.25);
      for (let i = 0; i < 500; i++) add("key_b", "claude", 0.5, "anthropic");
      add("key_a", "gpt-4o-mini", 0.125);
      expect(s.stats().pendingSpendGroups).toBe(3);

      // Queued amounts count before any write.
      expect(await s.spend.forKey("key_a", "2025-01-15")).toEqual({ spendUsd: 250.125, requests: 1001, inputTokens: 10010, outputTokens: 2002 });
      const before = s.stats().statements;
      await s.flush();
      expect(s.stats().statements - before).toBe(1); // 1501 adds, 3 groups, one statement
      expect(s.stats().pendingSpendGroups).toBe(0);
      expect(await count(raw(url), "spend")).toBe(3);

      now = T0 + DAY; // a new day: a new group, queued
      add("key_a", "gpt-4o", 1);
      expect(await s.spend.forKey("key_a", "2025-01-15")).toMatchObject({ spendUsd: 251.125, requests: 1002 });
      expect(await s.spend.forKey("key_a", "2025-01-16")).toEqual({ spendUsd: 1, requests: 1, inputTokens: 10, outputTokens: 2 });
      expect(await s.spend.forKey("key_none", "0000-01-01")).toEqual({ spendUsd: 0, requests: 0, inputTokens: 0, outputTokens: 0 });

      const byKey = await s.spend.query({ groupBy: "key" });
      expect(byKey).toEqual([
        { group: "key_a", spendUsd: 251.125, requests: 1002, inputTokens: 10020, outputTokens: 2004 },
        { group: "key_b", spendUsd: 250, requests: 500, inputTokens: 5000, outputTokens: 1000 },
      ]);
      expect((await s.spend.query({ groupBy: "provider" })).map((r) => [r.group, r.spendUsd])).toEqual([["anthropic", 250], ["openai", 251.125]]);
      expect((await s.spend.query({ groupBy: "model" })).map((r) => [r.group, r.requests])).toEqual([["claude", 500], ["gpt-4o", 1001], ["gpt-4o-mini", 1]]);
      expect((await s.spend.query({ groupBy: "day" })).map((r) => [r.group, r.requests])).toEqual([["2025-01-15", 1501], ["2025-01-16", 1]]);
      expect((await s.spend.query({ groupBy: "key", from: "2025-01-16" })).map((r) => [r.group, r.spendUsd])).toEqual([["key_a", 1]]);
      expect((await s.spend.query({ groupBy: "key", to: "2025-01-15" })).map((r) => [r.group, r.spendUsd])).toEqual([["key_a", 250.125], ["key_b", 250]]);

      await s.flush(); // the second day's add upserts into the table, and the first day's rows are untouched
      for (let i = 0; i < 3; i++) add("key_a", "gpt-4o", 0.25); // and an existing group accumulates
      now = T0;
      add("key_a", "gpt-4o", 0.25);
      await s.flush();
      expect(await s.spend.forKey("key_a", "0000-01-01")).toEqual({ spendUsd: 252.125, requests: 1006, inputTokens: 10060, outputTokens: 2012 });
      expect(await count(raw(url), "spend")).toBe(4);
    });

    test("keys: create, byDigest, get, list, update, revoke, changedSince", async () => {
      const url = await engine.fresh();
      let now = T0;
      const s = await store(url, { now: () => now });
      const k1 = await s.keys.create({
        digest: "dig-1",
        label: "team-a",
        models: ["gpt-4o", "anthropic/*"],
        rpm: 60,
        tpm: 10_000,
        maxConcurrent: 4,
        budgetUsd: 12.5,
        budgetPeriod: "monthly",
        expiresAt: T0 + 7 * DAY,
        metadata: { owner: "a@example.com", n: 1 },
      });
      expect(k1.id).toMatch(/^key_[0-9a-f]{32}$/);
      expect(k1).toMatchObject({ createdAt: T0, updatedAt: T0, revokedAt: null, budgetPeriod: "monthly" });
      now += 1000;
      const k2 = await s.keys.create({ id: "key_fixed", digest: "dig-2", label: "bare" });
      expect(k2).toEqual({
        id: "key_fixed", digest: "dig-2", label: "bare", models: null, rpm: null, tpm: null, maxConcurrent: null,
        budgetUsd: null, budgetPeriod: null, expiresAt: null, metadata: null, createdAt: T0 + 1000, updatedAt: T0 + 1000, revokedAt: null,
      });
      expect(await s.keys.byDigest("dig-1")).toEqual(k1);
      expect(await s.keys.get(k1.id)).toEqual(k1);
      expect(await s.keys.get("key_nope")).toBeNull();
      expect(await s.keys.byDigest("dig-nope")).toBeNull();
      expect((await s.keys.list()).map((k) => k.id)).toEqual([k1.id, "key_fixed"]);
      await expect(s.keys.create({ digest: "dig-1", label: "dup" })).rejects.toThrow();

      now += 1000;
      const up = await s.keys.update(k1.id, { label: "team-a2", rpm: null, models: ["gpt-4o"], metadata: null, budgetUsd: 20 });
      expect(up).toEqual({ ...k1, label: "team-a2", rpm: null, models: ["gpt-4o"], metadata: null, budgetUsd: 20, updatedAt: T0 + 2000 });
      expect(await s.keys.get(k1.id)).toEqual(up!);
      expect(await s.keys.update("key_nope", { label: "x" })).toBeNull();
      expect((await s.keys.changedSince(T0 + 1500)).map((k) => k.id)).toEqual([k1.id]);

      now += 1000;
      expect(await s.keys.revoke("key_fixed")).toBe(true);
      expect(await s.keys.revoke("key_fixed")).toBe(false);
      expect(await s.keys.get("key_fixed")).toBeNull();
      expect(await s.keys.update("key_fixed", { label: "y" })).toBeNull();
      expect((await s.keys.list()).map((k) => k.id)).toEqual([k1.id]);
      expect((await s.keys.byDigest("dig-2"))?.revokedAt).toBe(T0 + 3000);
      expect((await s.keys.changedSince(T0 + 2500)).map((k) => [k.id, k.revokedAt])).toEqual([["key_fixed", T0 + 3000]]);
      const other = await store(url);
      expect((await other.keys.list()).map((k) => k.label)).toEqual(["team-a2"]);
    });
  });
}
