// Virtual keys, limits, budgets, cost and spend over real sockets, the store on a temporary SQLite file. The mock
// provider's usage is deterministic: "hi" is 1 prompt token and "You said: hi" 3 completion tokens; at the
// configured price ($1 per input token, $2 per output token) every such request costs exactly $7.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { readFileSync } from "node:fs";
import { logsSettled, startGateway, tempStoreUrl, type TestGateway } from "../helpers/gateway.ts";
import { startOpenAIMock } from "../mocks/openai-upstream.ts";
import { StartupError } from "../../src/server.ts";

const ADMIN = "admin-secret-0123456789";
const CONFIG_KEY = "config-key-0123456789";
const storeUrl = tempStoreUrl();
// An OpenAI-compatible upstream with a model no price table knows (the mock provider itself is free, never unpriced).
const compat = startOpenAIMock();
const storeFile = storeUrl.slice("sqlite://".length);

const toml = (extra = "") => `
[server]
admin_key = "${ADMIN}"
[server.keys.team]
key = "${CONFIG_KEY}"
budget_usd = 7
budget_period = "daily"
[store]
url = "${storeUrl}"
[providers.mock]
type = "mock"
[providers.compat]
type = "openai"
base_url = "${compat.url}"
models = ["unpriced-model"]
[providers.slow]
type = "mock"
latency_ms = 300
[pricing."mock/m"]
input = 1000000
output = 2000000
[pricing."slow/m"]
input = 1000000
output = 2000000
${extra}`;

let gw: TestGateway;
const admin = (path: string, init: RequestInit = {}, key: string | null = ADMIN) =>
  fetch(`${gw.url}/admin${path}`, {
    ...init,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), "content-type": "application/json", ...(init.headers as Record<string, string>) },
  });
const createKey = async (body: Record<string, unknown>) => {
  const res = await admin("/keys", { method: "POST", body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return (await res.json()) as any;
};
const chat = (key: string | undefined, model = "mock/m", extra: Record<string, unknown> = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra }),
  });
const metric = async (line: RegExp) => {
  const text = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${CONFIG_KEY}` } })).text();
  const m = text.split("\n").find((l) => line.test(l));
  return m === undefined ? undefined : Number(m.split(" ").pop());
};
const accessLines = () => gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");

beforeAll(async () => {
  gw = await startGateway(toml());
});
afterAll(async () => {
  await gw?.stop(false);
  compat.stop();
});

describe("admin API", () => {
  test("needs the admin key (Bearer or x-api-key); gateway keys and no key are 401", async () => {
    expect((await admin("/keys", {}, null)).status).toBe(401);
    expect((await admin("/keys", {}, CONFIG_KEY)).status).toBe(401);
    expect((await admin("/keys", {}, "wrong")).status).toBe(401);
    expect((await admin("/keys")).status).toBe(200);
    expect((await fetch(`${gw.url}/admin/keys`, { headers: { "x-api-key": ADMIN } })).status).toBe(200);
  });

  test("the admin key is not a gateway key", async () => {
    expect((await chat(ADMIN)).status).toBe(401);
  });

  test("POST /admin/keys: 201 with the secret once, the key object as the contract lists it", async () => {
    const k = await createKey({ label: "alice", models: ["mock/*"], rpm: 50, metadata: { team: "a" }, expires_at: "2099-01-01T00:00:00Z" });
    expect(k.key).toMatch(/^sk-alloy-[A-Za-z0-9_-]{40,}$/);
    const { key, ...rest } = k;
    expect(Object.keys(rest).sort()).toEqual(
      ["id", "label", "models", "rpm", "tpm", "max_concurrent", "budget_usd", "budget_period", "expires_at", "metadata", "created_at", "spend_usd", "usage"].sort(),
    );
    expect(rest).toMatchObject({ label: "alice", models: ["mock/*"], rpm: 50, tpm: null, max_concurrent: null, budget_usd: null, budget_period: null, expires_at: "2099-01-01T00:00:00.000Z", metadata: { team: "a" }, spend_usd: 0, usage: { requests: 0, input_tokens: 0, output_tokens: 0 } });
    expect(rest.id).toMatch(/^key_/);
    // Never again: not in GET, not in the list, not in the store file, not in any log line.
    const one = await (await admin(`/keys/${k.id}`)).json();
    expect(one).toEqual(rest);
    const list = await (await admin("/keys")).text();
    expect(list).not.toContain(key);
    expect(list).toContain(k.id);
    await gw.store.flush();
    expect(readFileSync(storeFile).includes(Buffer.from(key))).toBe(false);
    expect((await chat(key)).status).toBe(200);
    await logsSettled();
    expect(gw.logs.join("\n")).not.toContain(key);
    expect(gw.logs.join("\n")).not.toContain(ADMIN);
    // Unix seconds for expires_at
    const u = await createKey({ label: "unix", expires_at: 4_000_000_000 });
    expect(u.expires_at).toBe(new Date(4_000_000_000_000).toISOString());
  });

  test("bad bodies are 400 naming the field", async () => {
    const post = async (body: unknown) => {
      const res = await admin("/keys", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
      return { status: res.status, error: ((await res.json()) as any).error };
    };
    const cases: Array<[unknown, string]> = [
      [{}, "label"],
      [{ label: "" }, "label"],
      [{ label: "x", rpm: 0 }, "rpm"],
      [{ label: "x", tpm: 1.5 }, "tpm"],
      [{ label: "x", max_concurrent: "3" }, "max_concurrent"],
      [{ label: "x", budget_usd: -1 }, "budget_usd"],
      [{ label: "x", budget_period: "yearly" }, "budget_period"],
      [{ label: "x", expires_at: "tomorrow" }, "expires_at"],
      [{ label: "x", models: "mock/m" }, "models"],
      [{ label: "x", metadata: [1] }, "metadata"],
      [{ label: "x", colour: "red" }, "colour"],
    ];
    for (const [body, field] of cases) {
      const r = await post(body);
      expect({ body, status: r.status, param: r.error.param }).toEqual({ body, status: 400, param: field });
      expect(r.error.message).toContain(field);
    }
    expect((await post("[1]")).status).toBe(400);
    expect((await post("{not json")).status).toBe(400);
    const patch = await admin(`/keys/${(await createKey({ label: "p" })).id}`, { method: "PATCH", body: JSON.stringify({ rpm: -3 }) });
    expect(patch.status).toBe(400);
    expect(((await patch.json()) as any).error.param).toBe("rpm");
  });

  test("unknown ids are 404 on GET, PATCH and DELETE; DELETE is 204", async () => {
    for (const method of ["GET", "PATCH", "DELETE"]) {
      const res = await admin("/keys/key_nope", { method, ...(method === "PATCH" ? { body: JSON.stringify({ rpm: 5 }) } : {}) });
      expect({ method, status: res.status }).toEqual({ method, status: 404 });
    }
    const k = await createKey({ label: "gone" });
    const del = await admin(`/keys/${k.id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect((await admin(`/keys/${k.id}`)).status).toBe(404);
    expect((await admin(`/keys/${k.id}`, { method: "DELETE" })).status).toBe(404);
  });
});

describe("virtual keys on the request path", () => {
  test("changes and revocations apply from the next request", async () => {
    const k = await createKey({ label: "bob" });
    expect((await chat(k.key)).status).toBe(200);
    // models
    expect((await admin(`/keys/${k.id}`, { method: "PATCH", body: JSON.stringify({ models: ["other/*"] }) })).status).toBe(200);
    const refused = await chat(k.key);
    expect(refused.status).toBe(403);
    expect((await admin(`/keys/${k.id}`, { method: "PATCH", body: JSON.stringify({ models: null }) })).status).toBe(200);
    expect((await chat(k.key)).status).toBe(200);
    // expiry
    expect((await admin(`/keys/${k.id}`, { method: "PATCH", body: JSON.stringify({ expires_at: Math.floor(Date.now() / 1000) - 1 }) })).status).toBe(200);
    const expired = await chat(k.key);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as any).error.message).toContain("expired");
    expect((await admin(`/keys/${k.id}`, { method: "PATCH", body: JSON.stringify({ expires_at: null }) })).status).toBe(200);
    expect((await chat(k.key)).status).toBe(200);
    // revocation
    expect((await admin(`/keys/${k.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await chat(k.key)).status).toBe(401);
  });

  test("with keys, /v1/* needs one; unknown keys are 401", async () => {
    expect((await chat(undefined)).status).toBe(401);
    expect((await chat("sk-alloy-nope")).status).toBe(401);
    const models = await fetch(`${gw.url}/v1/models`);
    expect(models.status).toBe(401);
  });
});

describe("cost", () => {
  test("x-alloy-cost-usd, the access line, the metric and the key's spend agree on the configured price", async () => {
    const k = await createKey({ label: "carol" });
    const res = await chat(k.key);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-alloy-cost-usd")).toBe("7");
    // A stream: no header (the usage comes at the end), the same cost counted.
    const s = await chat(k.key, "mock/m", { stream: true });
    expect(s.headers.get("x-alloy-cost-usd")).toBeNull();
    await s.text();
    await logsSettled();
    const lines = accessLines().filter((l) => l.key === k.id);
    expect(lines.map((l) => l.costUsd)).toEqual([7, 7]);
    expect(await metric(new RegExp(`^alloy_cost_usd_total\\{provider="mock",model="m",key="${k.id}"\\}`))).toBe(14);
    const view = (await (await admin(`/keys/${k.id}`)).json()) as any;
    expect(view.spend_usd).toBe(14);
    expect(view.usage).toEqual({ requests: 2, input_tokens: 2, output_tokens: 6 });
  });

  test("/v1/messages is billed the same way, in its own route", async () => {
    const k = await createKey({ label: "dave" });
    const client = new Anthropic({ baseURL: gw.url, apiKey: k.key, maxRetries: 0 });
    const { response } = await client.messages.create({ model: "mock/m", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(response.headers.get("x-alloy-cost-usd")).toBe("7");
  });

  test("/v1/responses and /v1/embeddings carry the cost header and bill the key too", async () => {
    const k = await createKey({ label: "frank" });
    const post = (path: string, body: unknown) =>
      fetch(`${gw.url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${k.key}` }, body: JSON.stringify(body) });
    const r = await post("/v1/responses", { model: "mock/m", input: "hi" });
    expect(r.status).toBe(200);
    expect(r.headers.get("x-alloy-cost-usd")).toBe("7");
    const e = await post("/v1/embeddings", { model: "mock/m", input: "one two three" });
    expect(e.status).toBe(200);
    const usage = ((await e.json()) as any).usage;
    // Embeddings have no output tokens: their prompt tokens at $1 each.
    expect(e.headers.get("x-alloy-cost-usd")).toBe(String(usage.prompt_tokens));
    const view = (await (await admin(`/keys/${k.id}`)).json()) as any;
    expect(view.spend_usd).toBe(7 + usage.prompt_tokens);
    expect(view.usage.requests).toBe(2);
  });

  test("the mock provider is free: no warning, not counted as unpriced", async () => {
    const k = await createKey({ label: "frank" });
    const res = await chat(k.key, "mock/never-priced");
    expect(res.headers.get("x-alloy-cost-usd")).toBe("0");
    await logsSettled();
    expect(gw.logs.some((l) => l.includes("no price for mock/never-priced"))).toBe(false);
    expect(await metric(/^alloy_unpriced_requests_total\{provider="mock"/)).toBeUndefined();
  });

  test("an unpriced model costs 0, is counted, and warned about once", async () => {
    const k = await createKey({ label: "erin" });
    for (let i = 0; i < 3; i++) {
      const res = await chat(k.key, "compat/unpriced-model");
      expect(res.headers.get("x-alloy-cost-usd")).toBe("0");
    }
    await logsSettled();
    expect(gw.logs.filter((l) => l.includes("no price for compat/unpriced-model")).length).toBe(1);
    expect(await metric(/^alloy_unpriced_requests_total\{provider="compat",model="unpriced-model"\}/)).toBe(3);
  });
});

describe("limits", () => {
  test("tpm over a sliding minute from real usage, streams included; x-ratelimit-* say what remains", async () => {
    const k = await createKey({ label: "tpm", tpm: 10, rpm: 100 });
    const seen: Array<[number, string | null, string | null]> = [];
    for (let i = 0; i < 3; i++) {
      const r = await chat(k.key);
      seen.push([r.status, r.headers.get("x-ratelimit-remaining-tokens"), r.headers.get("x-ratelimit-remaining-requests")]);
      expect(r.headers.get("x-ratelimit-limit-tokens")).toBe("10");
      expect(r.headers.get("x-ratelimit-limit-requests")).toBe("100");
    }
    // 4 tokens each: 10 - 4 = 6, 6 - 4 = 2, then 0 (never below).
    expect(seen).toEqual([
      [200, "6", "99"],
      [200, "2", "98"],
      [200, "0", "97"],
    ]);
    const over = await chat(k.key);
    expect(over.status).toBe(429);
    expect(((await over.json()) as any).error.code).toBe("rate_limit_exceeded");
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(over.headers.get("retry-after"))).toBeLessThanOrEqual(60);

    const s = await createKey({ label: "tpm-stream", tpm: 5 });
    const stream = await chat(s.key, "mock/m", { stream: true });
    expect(stream.headers.get("x-ratelimit-remaining-tokens")).toBe("5");
    await stream.text();
    await logsSettled();
    // The stream's 4 tokens count once it ended: one more request fits (4 < 5), the next does not (8).
    expect((await chat(s.key)).status).toBe(200);
    expect((await chat(s.key)).status).toBe(429);
  });

  test("rpm on a virtual key: 429 with Retry-After", async () => {
    const k = await createKey({ label: "rpm", rpm: 2 });
    expect((await chat(k.key)).status).toBe(200);
    const second = await chat(k.key);
    expect(second.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    const third = await chat(k.key);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(50);
  });

  test("many requests at once on one key never overshoot max_concurrent", async () => {
    const k = await createKey({ label: "conc", max_concurrent: 3 });
    const all = await Promise.all(Array.from({ length: 20 }, () => chat(k.key, "slow/m")));
    const ok = all.filter((r) => r.status === 200).length;
    const refused = all.filter((r) => r.status === 429);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(3);
    expect(refused.length).toBe(20 - ok);
    for (const r of refused) expect(r.headers.get("retry-after")).toBe("1");
    // Slots come back: the key works again once those finished.
    expect((await chat(k.key, "slow/m")).status).toBe(200);
  });
});

describe("budgets", () => {
  test("admitted while spend is below the budget, then 429 insufficient_quota with x-should-retry: false", async () => {
    const k = await createKey({ label: "budget", budget_usd: 10, budget_period: "monthly" });
    expect((await chat(k.key)).status).toBe(200); // $0 < $10 → $7
    expect((await chat(k.key)).status).toBe(200); // $7 < $10 → $14
    const refused = await chat(k.key);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("x-should-retry")).toBe("false");
    expect(refused.headers.get("retry-after")).toBeNull();
    const body = (await refused.json()) as any;
    expect(body.error).toMatchObject({ type: "insufficient_quota", code: "insufficient_quota" });
    const view = (await (await admin(`/keys/${k.id}`)).json()) as any;
    expect(view.spend_usd).toBe(14);
    expect(view.usage.requests).toBe(2);

    // The OpenAI SDK reads x-should-retry and does not retry, whatever its maxRetries.
    await logsSettled();
    const before = accessLines().filter((l) => l.key === k.id).length;
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: k.key, maxRetries: 3 });
    const err: any = await client.chat.completions.create({ model: "mock/m", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe("insufficient_quota");
    await logsSettled();
    expect(accessLines().filter((l) => l.key === k.id).length).toBe(before + 1);

    // Anthropic's shape on /v1/messages.
    const m = await fetch(`${gw.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": k.key, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "mock/m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(m.status).toBe(429);
    expect(m.headers.get("x-should-retry")).toBe("false");
    expect(((await m.json()) as any).error.type).toBe("rate_limit_error");

    // Raising the budget lets it through again at once.
    expect((await admin(`/keys/${k.id}`, { method: "PATCH", body: JSON.stringify({ budget_usd: 100 }) })).status).toBe(200);
    expect((await chat(k.key)).status).toBe(200);
  });

  test("requests in flight when the budget runs out finish; the budget overshoots by at most those", async () => {
    const k = await createKey({ label: "inflight", budget_usd: 1 });
    const all = await Promise.all(Array.from({ length: 5 }, () => chat(k.key, "slow/m")));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await chat(k.key)).status).toBe(429);
    const view = (await (await admin(`/keys/${k.id}`)).json()) as any;
    expect(view.spend_usd).toBe(35);
  });

  test("config keys get budgets too", async () => {
    expect((await chat(CONFIG_KEY)).status).toBe(200);
    const r = await chat(CONFIG_KEY);
    expect(r.status).toBe(429);
    expect(((await r.json()) as any).error.code).toBe("insufficient_quota");
  });
});

describe("spend", () => {
  test("GET /admin/spend groups the store's aggregates by key, model, provider and day", async () => {
    const byKey = (await (await admin("/spend?group_by=key")).json()) as any;
    expect(byKey.object).toBe("list");
    const team = byKey.data.find((r: any) => r.group === "team");
    expect(team).toEqual({ group: "team", spend_usd: 7, requests: 1, input_tokens: 1, output_tokens: 3 });
    const byProvider = (await (await admin("/spend?group_by=provider")).json()) as any;
    expect(byProvider.data.map((r: any) => r.group).sort()).toEqual(["compat", "mock", "slow"]);
    const byModel = (await (await admin("/spend?group_by=model")).json()) as any;
    const total = byKey.data.reduce((a: number, r: any) => a + r.spend_usd, 0);
    expect(byModel.data.reduce((a: number, r: any) => a + r.spend_usd, 0)).toBe(total);
    const today = new Date().toISOString().slice(0, 10);
    const byDay = (await (await admin(`/spend?group_by=day&from=${today}&to=${today}`)).json()) as any;
    expect(byDay.data).toEqual([{ group: today, spend_usd: total, requests: expect.any(Number), input_tokens: expect.any(Number), output_tokens: expect.any(Number) }]);
    const none = (await (await admin("/spend?group_by=day&to=2000-01-01")).json()) as any;
    expect(none.data).toEqual([]);
    const bad = await admin("/spend?group_by=colour");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.param).toBe("group_by");
    expect(((await (await admin("/spend?from=yesterday")).json()) as any).error.param).toBe("from");
  });
});

describe("restart", () => {
  test("keys, spend and budgets survive a restart on the same store file", async () => {
    const k = await createKey({ label: "durable", budget_usd: 10 });
    expect((await chat(k.key)).status).toBe(200);
    expect((await chat(k.key)).status).toBe(200);
    const revoked = await createKey({ label: "revoked" });
    await admin(`/keys/${revoked.id}`, { method: "DELETE" });
    await gw.stop();
    gw = await startGateway(toml());
    const view = (await (await admin(`/keys/${k.id}`)).json()) as any;
    expect(view.spend_usd).toBe(14);
    expect(view.label).toBe("durable");
    const r = await chat(k.key);
    expect(r.status).toBe(429);
    expect(((await r.json()) as any).error.code).toBe("insufficient_quota");
    expect((await chat(revoked.key)).status).toBe(401);
    // The config key's daily budget was spent before the restart too.
    expect((await chat(CONFIG_KEY)).status).toBe(429);
  });
});

describe("an OpenAI-compatible upstream", () => {
  test("relayed streams (info level) and JSON answers are billed from the upstream's usage, built-in prices apply", async () => {
    const up = startOpenAIMock();
    const g = await startGateway(
      `
[server]
admin_key = "${ADMIN}"
[server.keys.relay]
key = "${CONFIG_KEY}"
tpm = 100
[providers.openai]
api_key = "sk-up"
base_url = "${up.url}"
[pricing."openai/priced"]
input = 1000000
output = 1000000
`,
      {},
      { logLevel: "info" },
    );
    try {
      const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: CONFIG_KEY, maxRetries: 0 });
      // The mock's stream reports 12 prompt + 3 completion tokens (when the gateway asks for usage, which it does).
      const stream = await client.chat.completions.create({ model: "openai/priced", messages: [{ role: "user", content: "hi" }], stream: true });
      for await (const _ of stream);
      // JSON: 12 + 5 at gpt-4o's built-in price ($2.50 / $10 per million).
      const { response } = await client.chat.completions.create({ model: "openai/gpt-4o", messages: [{ role: "user", content: "hi" }] }).withResponse();
      expect(response.headers.get("x-alloy-cost-usd")).toBe(String((12 * 2.5 + 5 * 10) / 1e6));
      // tpm saw both: 100 - 15 - 17.
      expect(response.headers.get("x-ratelimit-remaining-tokens")).toBe("68");
      await logsSettled();
      const costs = g.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request" && l.route === "/v1/chat/completions").map((l) => l.costUsd);
      expect(costs).toEqual([15, (12 * 2.5 + 5 * 10) / 1e6]);
    } finally {
      await g.stop(false);
      up.stop();
    }
  });
});

describe("startup", () => {
  test("a store that cannot be opened is a one-line StartupError", async () => {
    for (const url of ["sqlite:///nonexistent-dir-alloy/x/y.db", "mysql://db/alloy"]) {
      const err = await startGateway(`[store]\nurl = "${url}"\n[providers.mock]\n`).catch((e) => e);
      expect(err).toBeInstanceOf(StartupError);
      expect(err.message.split("\n")).toHaveLength(1);
      expect(err.message).toStartWith("store ");
    }
  });
});
