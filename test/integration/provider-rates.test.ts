// A provider's own rpm/tpm (an upstream org limit): past it the target is skipped like a busy one — failover when
// the alias has another target, else 429 with Retry-After. With store.redis_url, replicas share the count.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { findRedisServer, REDIS_MISSING, startRedis, type RedisServer } from "../helpers/redis.ts";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";

const providers = (extra = "") => `
[providers.limited]
type = "mock"
rpm = 2
[providers.tokens]
type = "mock"
tpm = 5
[providers.backup]
type = "mock"
[models.capped]
targets = ["limited/echo", "backup/echo"]
${extra}`;

const running: TestGateway[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop(false)));
});
const start = async (toml: string) => {
  const g = await startGateway(toml);
  running.push(g);
  return g;
};
const ask = (g: TestGateway, model: string) =>
  fetch(`${g.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });

describe("provider rpm and tpm", () => {
  test("past rpm an alias fails over at once; a direct model is 429 with Retry-After", async () => {
    const g = await start(providers());
    const via: string[] = [];
    for (let i = 0; i < 3; i++) via.push((await ask(g, "capped")).headers.get("x-alloy-provider")!);
    expect(via).toEqual(["limited", "limited", "backup"]);
    const direct = await ask(g, "limited/echo");
    expect(direct.status).toBe(429);
    expect(Number(direct.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await direct.json()) as { error: { message: string } };
    expect(body.error.message).toContain("providers.limited.rpm");
  });

  test("tpm counts the tokens answers used (the mock's 'hi' is 1 + 3)", async () => {
    const g = await start(providers());
    expect((await ask(g, "tokens/echo")).status).toBe(200); // 4 of 5
    expect((await ask(g, "tokens/echo")).status).toBe(200); // admitted while under: now 8
    const third = await ask(g, "tokens/echo");
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { message: string } }).error.message).toContain("tpm");
  });
});

const redisBin = findRedisServer();
const onCI = !!process.env.CI && !/^(0|false)$/i.test(process.env.CI);
if (!redisBin && onCI)
  test("redis-server is installed (required on CI)", () => {
    throw new Error(`${REDIS_MISSING}; .ci/run installs it`);
  });
else if (!redisBin) {
  console.warn(`provider rates: SKIPPED the shared case, ${REDIS_MISSING}`);
  test.skipIf(true)(`shared provider rates (skipped: ${REDIS_MISSING})`, () => {});
} else
  describe("shared by replicas through Redis", () => {
    let redis: RedisServer;
    afterAll(() => redis?.stop());
    test("two replicas enforce one provider rpm between them", async () => {
      redis = await startRedis(redisBin);
      const shared = `[store]\nurl = "sqlite://:memory:"\nredis_url = "${redis.url}"\n${providers()}`;
      const [a, b] = await Promise.all([start(shared), start(shared)]);
      const statuses: number[] = [];
      for (const g of [a, b, a, b]) statuses.push((await ask(g, "limited/echo")).status);
      expect(statuses).toEqual([200, 200, 429, 429]);
    }, 20_000);
  });
