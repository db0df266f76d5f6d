// Many replicas acting as one: two in-process gateways on one PostgreSQL database and one redis-server (each with its
// own counters in memory: only Redis and the database are shared). The mock's usage is deterministic: "hi" is 1
// prompt token and "You said: hi" 3 completion tokens; at $1 per input and $2 per output token a request costs $7.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { findPgBin, startPostgres, type PgCluster } from "../helpers/postgres.ts";
import { findRedisServer, REDIS_MISSING, startRedis, type RedisServer } from "../helpers/redis.ts";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = "admin-secret-0123456789";
const pgBin = findPgBin();
const redisBin = findRedisServer();
const PG_MISSING = "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): install the Debian package `postgresql`";
const onCI = !!process.env.CI && !/^(0|false)$/i.test(process.env.CI);
const missing = [!pgBin && PG_MISSING, !redisBin && REDIS_MISSING].filter(Boolean).join("; ");

const toml = (db: string, redis: string, extra = "") => `
[server]
admin_key = "${ADMIN}"
[store]
url = "${db}"
redis_url = "${redis}"
${extra}
[providers.mock]
type = "mock"
[providers.slow]
type = "mock"
latency_ms = 400
[pricing."mock/m"]
input = 1000000
output = 2000000
[pricing."slow/m"]
input = 1000000
output = 2000000
`;

if (missing && onCI) {
  test("PostgreSQL and redis-server are installed (required on CI)", () => {
    throw new Error(`${missing}; .ci/run installs them`);
  });
} else if (missing) {
  console.warn(`replicas: SKIPPED, ${missing} to run these tests`);
  test.skipIf(true)(`replica tests (skipped: ${missing})`, () => {});
} else {
  let pg: PgCluster;
  let redis: RedisServer;
  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(pgBin!), startRedis(redisBin!)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  const running: TestGateway[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((g) => g.stop(false)));
  });
  /** Two replicas on a fresh database (the Redis is shared by every test: key ids are unique). */
  const pair = async (extra = "", db?: string) => {
    const url = db ?? (await pg.createDatabase());
    const a = await startGateway(toml(url, redis.url, extra));
    const b = await startGateway(toml(url, redis.url, extra));
    running.push(a, b);
    return { a, b, db: url };
  };
  const admin = (gw: TestGateway, path: string, init: RequestInit = {}) =>
    fetch(`${gw.url}/admin${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" } });
  const createKey = async (gw: TestGateway, body: Record<string, unknown>) => {
    const res = await admin(gw, "/keys", { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; key: string };
  };
  const chat = (gw: TestGateway, key: string, model = "mock/m", extra: Record<string, unknown> = {}) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra }),
    });
  const statuses = async (rs: Promise<Response>[]) => Promise.all(rs.map(async (r) => (await r).status));

  describe("two replicas, one PostgreSQL, one Redis", () => {
    test("a key created on one works on the other at once (the other asks the store)", async () => {
      const { a, b } = await pair();
      const k = await createKey(a, { label: "web" });
      const res = await chat(b, k.key);
      expect(res.status).toBe(200);
      // An unknown key is still a 401 on both.
      expect((await chat(b, "sk-alloy-not-a-key")).status).toBe(401);
      expect((await chat(a, "sk-alloy-not-a-key")).status).toBe(401);
    });

    test("rpm 10 across two replicas: exactly 10 of 20 pass", async () => {
      const { a, b } = await pair();
      const k = await createKey(a, { label: "rpm", rpm: 10 });
      const got = await statuses(Array.from({ length: 20 }, (_, i) => chat(i % 2 ? a : b, k.key)));
      expect(got.filter((s) => s === 200)).toHaveLength(10);
      expect(got.filter((s) => s === 429)).toHaveLength(10);
      const refused = await chat(a, k.key);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    });

    test("tpm across both: 4 tokens a request, tpm 8, the third request on either is refused", async () => {
      const { a, b } = await pair();
      const k = await createKey(a, { label: "tpm", tpm: 8 });
      expect((await chat(a, k.key)).status).toBe(200);
      expect((await chat(b, k.key)).status).toBe(200);
      const third = await chat(a, k.key);
      expect(third.status).toBe(429);
      expect(((await third.json()) as any).error.message).toContain("tokens per minute");
      expect((await chat(b, k.key)).status).toBe(429);
    });

    test("budget across both: $21 is three $7 requests, wherever they go", async () => {
      const { a, b } = await pair();
      const k = await createKey(a, { label: "budget", budget_usd: 21, budget_period: "daily" });
      expect((await chat(a, k.key)).status).toBe(200);
      expect((await chat(b, k.key)).status).toBe(200);
      expect((await chat(a, k.key)).status).toBe(200);
      const over = await chat(b, k.key);
      expect(over.status).toBe(429);
      expect(((await over.json()) as any).error.code).toBe("insufficient_quota");
      expect((await chat(a, k.key)).status).toBe(429);
    });

    test("max_concurrent 2 across both: of 6 slow requests at once, 2 pass", async () => {
      const { a, b } = await pair();
      const k = await createKey(a, { label: "conc", max_concurrent: 2 });
      const got = await statuses(Array.from({ length: 6 }, (_, i) => chat(i % 2 ? a : b, k.key, "slow/m")));
      expect(got.filter((s) => s === 200)).toHaveLength(2);
      expect(got.filter((s) => s === 429)).toHaveLength(4);
      // Slots come back when requests end: the next one passes.
      expect((await chat(b, k.key, "slow/m")).status).toBe(200);
    });

    test("a revocation on one replica is seen by the other within 1 s", async () => {
      const { a, b } = await pair();
      const k = await createKey(a, { label: "revoke" });
      expect((await chat(b, k.key)).status).toBe(200);
      expect((await admin(a, `/keys/${k.id}`, { method: "DELETE" })).status).toBe(204);
      const t0 = performance.now();
      let status = 200;
      while (status === 200 && performance.now() - t0 < 3000) status = (await chat(b, k.key)).status;
      expect(status).toBe(401);
      expect(performance.now() - t0).toBeLessThan(1000);
    });

    test("stored responses written on one are readable on the other within 1 s", async () => {
      const { a, b } = await pair();
      const k = await createKey(a, { label: "resp" });
      const res = await fetch(`${a.url}/v1/responses`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${k.key}` },
        body: JSON.stringify({ model: "mock/m", input: "hi" }),
      });
      expect(res.status).toBe(200);
      const id = ((await res.json()) as { id: string }).id;
      const t0 = performance.now();
      let status = 404;
      while (status !== 200 && performance.now() - t0 < 3000)
        status = (await fetch(`${b.url}/v1/responses/${id}`, { headers: { authorization: `Bearer ${k.key}` } })).status;
      expect(status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(1000);
    });

    test("restart of both replicas: spend, budgets and stored responses are all still there", async () => {
      const first = await pair();
      const k = await createKey(first.a, { label: "restart", budget_usd: 14 });
      expect((await chat(first.a, k.key)).status).toBe(200);
      const res = await fetch(`${first.b.url}/v1/responses`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${k.key}` },
        body: JSON.stringify({ model: "mock/m", input: "hi" }),
      });
      const id = ((await res.json()) as { id: string }).id;
      await Promise.all(running.splice(0).map((g) => g.stop(true)));
      const { a, b } = await pair("", first.db);
      const view = (await (await admin(a, `/keys/${k.id}`)).json()) as { spend_usd: number; usage: { requests: number } };
      expect(view.spend_usd).toBe(14);
      expect(view.usage.requests).toBe(2);
      expect((await fetch(`${a.url}/v1/responses/${id}`, { headers: { authorization: `Bearer ${k.key}` } })).status).toBe(200);
      // $14 of $14 spent: refused on both.
      expect((await chat(b, k.key)).status).toBe(429);
      expect((await chat(a, k.key)).status).toBe(429);
    });
  });

  describe("Redis unreachable", () => {
    test("open: served on local counters, /ready degraded, counted; sharing resumes when Redis is back", async () => {
      const { a, b } = await pair();
      const k = await createKey(a, { label: "outage", rpm: 4 });
      expect((await chat(a, k.key)).status).toBe(200);
      expect((await chat(b, k.key)).status).toBe(200);
      await redis.down();
      try {
        // Each replica now counts its own: 4 more on each, not 2 between them.
        const got = await statuses(Array.from({ length: 8 }, (_, i) => chat(i % 2 ? a : b, k.key)));
        expect(got.filter((s) => s === 200)).toHaveLength(8);
        const ready = await fetch(`${a.url}/ready`);
        expect(ready.status).toBe(200);
        expect(((await ready.json()) as { status: string }).status).toBe("degraded");
        const metrics = await (await fetch(`${a.url}/metrics`)).text();
        expect(Number(/alloy_store_errors_total\{backend="redis"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
        expect(a.logs.some((l) => l.includes("serving on this replica's own counters"))).toBe(true);
      } finally {
        await redis.up();
      }
      // Back: shared again (a fresh Redis: the window starts empty), 4 between both.
      const t0 = performance.now();
      while (performance.now() - t0 < 5000) {
        const r = (await (await fetch(`${a.url}/ready`)).json()) as { status: string };
        const s = (await (await fetch(`${b.url}/ready`)).json()) as { status: string };
        if (r.status === "ready" && s.status === "ready") break;
        await Bun.sleep(50);
      }
      const got = await statuses(Array.from({ length: 8 }, (_, i) => chat(i % 2 ? a : b, k.key)));
      expect(got.filter((s) => s === 200)).toHaveLength(4);
    }, 30_000);

    test("closed: requests that need a shared counter get 503; unlimited keys are served", async () => {
      const { a } = await pair(`on_error = "closed"`);
      const limited = await createKey(a, { label: "limited", rpm: 100 });
      const free = await createKey(a, { label: "free" });
      expect((await chat(a, limited.key)).status).toBe(200);
      await redis.down();
      try {
        const res = await chat(a, limited.key);
        expect(res.status).toBe(503);
        expect((await chat(a, free.key)).status).toBe(200);
      } finally {
        await redis.up();
      }
    }, 30_000);
  });
}
