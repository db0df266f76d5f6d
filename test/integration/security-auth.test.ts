// Gateway keys over real sockets: every route but the probes needs one, both header styles work, /metrics has its
// own key, keys can be limited to models, per-key rpm and concurrency answer 429 with Retry-After, and no key value
// ever reaches the client, the upstream or a log line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";
import { completion, jsonResponse, startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

const PLAIN = "plain-gateway-key-0001";
const TEAM = "team-a-secret-value-0002";
const RPM = "rpm-limited-secret-0003";
const NARROW = "one-at-a-time-secret-0004";
const METRICS = "metrics-scraper-secret-0005";
const SECRETS = [PLAIN, TEAM, RPM, NARROW, METRICS];

let upstream: OpenAIMock;
let gw: TestGateway;

beforeAll(async () => {
  upstream = startOpenAIMock();
  gw = await startGateway(`
[server]
api_keys = ["${PLAIN}"]
metrics_api_key = "${METRICS}"
[server.keys.team-a]
key = "${TEAM}"
models = ["smart", "mock/echo-*"]
[server.keys.rpm-two]
key = "${RPM}"
rpm = 2
[server.keys.narrow]
key = "${NARROW}"
max_concurrent = 1
[providers.mock]
type = "mock"
models = ["echo-1", "other"]
[providers.openai]
api_key = "sk-upstream-provider-key"
base_url = "${upstream.url}"
models = ["gpt-4o-mini"]
[governance]
max_retries = 0
[models.smart]
targets = ["mock/echo-1"]
`);
});
afterAll(async () => {
  await gw.stop(false);
  upstream.stop();
});

const chatBody = (model = "mock/echo-1") => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] });
const chat = (headers: Record<string, string>, model?: string) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: chatBody(model) });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: string | null };
}
const errorJson = async (res: Response) => (await res.json()) as ErrorJson;

async function expectAuthError(res: Response, message: RegExp) {
  expect(res.status).toBe(401);
  expect(res.headers.get("x-request-id")).toBeTruthy();
  expect(res.headers.get("www-authenticate")).toContain("Bearer");
  const text = await res.text();
  for (const s of SECRETS) expect(text).not.toContain(s);
  const body = JSON.parse(text);
  expect(body.error.type).toBe("authentication_error");
  expect(body.error.code).toBe("invalid_api_key");
  expect(body.error.message).toMatch(message);
}

describe("gateway keys", () => {
  test("a missing key is a 401 in OpenAI's shape, on chat, models and MCP routes alike", async () => {
    await expectAuthError(await chat({}), /Missing API key/);
    await expectAuthError(await fetch(`${gw.url}/v1/models`), /Missing API key/);
    await expectAuthError(await fetch(`${gw.url}/v1/mcp/tools`), /Missing API key/);
    await expectAuthError(await fetch(`${gw.url}/v1/mcp/tools/call`, { method: "POST", body: "{}" }), /Missing API key/);
  });

  test("a wrong key is a 401 that does not echo what was sent", async () => {
    const res = await chat(bearer("wrong-key-that-must-not-echo"));
    const text = await res.clone().text();
    expect(text).not.toContain("wrong-key-that-must-not-echo");
    await expectAuthError(res, /^Invalid API key$/);
    await expectAuthError(await chat({ authorization: `Bearer ${PLAIN}x` }), /Invalid API key/);
    await expectAuthError(await chat({ authorization: PLAIN }), /Missing API key/); // no Bearer scheme
  });

  test("the client's request id is kept on a 401", async () => {
    const res = await chat({ "x-request-id": "client-id-401" });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toBe("client-id-401");
  });

  test("a right key passes, as Bearer (any case) or as x-api-key", async () => {
    const a = await chat(bearer(PLAIN));
    expect(a.status).toBe(200);
    expect(((await a.json()) as { object: string }).object).toBe("chat.completion");
    expect((await chat({ authorization: `bearer ${TEAM}` })).status).toBe(200);
    expect((await chat({ "x-api-key": PLAIN })).status).toBe(200);
    // An SDK's placeholder Bearer plus the real key in x-api-key still gets in.
    expect((await chat({ authorization: "Bearer placeholder", "x-api-key": PLAIN })).status).toBe(200);
  });

  test("unknown paths need a key too, so they reveal nothing; with one they are a 404", async () => {
    await expectAuthError(await fetch(`${gw.url}/v1/nope`), /Missing API key/);
    await expectAuthError(await fetch(`${gw.url}/admin`), /Missing API key/);
    expect((await fetch(`${gw.url}/v1/nope`, { headers: bearer(PLAIN) })).status).toBe(404);
  });

  test("URL and Host header tricks reach nothing without a key", async () => {
    // Bun builds request.url from the Host header: a Host with '/' or '?' in it must not make /v1 look like a probe.
    const raw = (target: string, host: string) =>
      new Promise<string>((resolve) => {
        let got = "";
        Bun.connect({
          hostname: "127.0.0.1",
          port: gw.port,
          socket: {
            open: (s) => void s.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
            data: (_s, d) => void (got += d.toString()),
            close: () => resolve(got.split("\r\n")[0]!),
            error: () => resolve(got.split("\r\n")[0] ?? ""),
          },
        });
      });
    for (const [target, host] of [
      ["/v1/models", "e/health?"],
      ["/v1/models", "e/ready?"],
      ["/v1/models", "e/health"],
      ["/health?/v1/models", "e"],
      ["http://e/health?/v1/models", "e"],
      ["http://evil/v1/models", "x"],
      ["/v1/models#", "x"],
      ["/./v1/models", "x"],
      ["//v1/models", "x"],
      ["/metrics", "e/health?"],
    ])
      expect(`${target} ${host} → ${await raw(target!, host!)}`).toMatch(/ → HTTP\/1\.1 401 /);
  });

  test("/health and /ready stay open", async () => {
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    expect((await fetch(`${gw.url}/ready`)).status).toBe(200);
  });

  test("the gateway key is never forwarded upstream; the provider key is", async () => {
    upstream.script = (c) => jsonResponse(completion(c.body.model, "ok"));
    const before = upstream.calls.length;
    const res = await chat({ ...bearer(PLAIN), "x-api-key": PLAIN }, "openai/gpt-4o-mini");
    expect(res.status).toBe(200);
    const call = upstream.calls[before]!;
    expect(call.headers.authorization).toBe("Bearer sk-upstream-provider-key");
    expect(call.headers["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(call)).not.toContain(PLAIN);
  });
});

describe("/metrics protection", () => {
  test("metrics_api_key: only that key opens /metrics; gateway keys do not", async () => {
    await expectAuthError(await fetch(`${gw.url}/metrics`), /Missing API key/);
    await expectAuthError(await fetch(`${gw.url}/metrics`, { headers: bearer(PLAIN) }), /Invalid API key/);
    const ok = await fetch(`${gw.url}/metrics`, { headers: bearer(METRICS) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("# TYPE");
  });

  test("the metrics key opens nothing else", async () => {
    await expectAuthError(await chat(bearer(METRICS)), /Invalid API key/);
  });

  test("metrics_require_key: any gateway key opens /metrics; without the setting it is open", async () => {
    const keyed = await startGateway(`
[server]
api_keys = ["${PLAIN}"]
metrics_require_key = true
[providers.mock]
type = "mock"
`);
    const open = await startGateway(`
[server]
api_keys = ["${PLAIN}"]
[providers.mock]
type = "mock"
`);
    try {
      await expectAuthError(await fetch(`${keyed.url}/metrics`), /Missing API key/);
      expect((await fetch(`${keyed.url}/metrics`, { headers: bearer(PLAIN) })).status).toBe(200);
      expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
      await expectAuthError(await fetch(`${open.url}/v1/models`), /Missing API key/);
    } finally {
      await keyed.stop(false);
      await open.stop(false);
    }
  });
});

describe("model restriction", () => {
  test("a restricted key uses its aliases and matching provider/model ids, and gets 403 for the rest", async () => {
    expect((await chat(bearer(TEAM), "smart")).status).toBe(200);
    expect((await chat(bearer(TEAM), "mock/echo-1")).status).toBe(200);
    expect((await chat(bearer(TEAM), "mock/echo-anything")).status).toBe(200);
    const denied = await chat(bearer(TEAM), "mock/other");
    expect(denied.status).toBe(403);
    const body = await errorJson(denied);
    expect(body.error).toEqual({
      message: "The API key 'team-a' is not allowed to use the model 'mock/other'",
      type: "permission_error",
      param: "model",
      code: "model_not_allowed",
    });
    expect((await chat(bearer(TEAM), "gpt-4o-mini")).status).toBe(403);
  });

  test("an unrestricted key is not affected", async () => {
    expect((await chat(bearer(PLAIN), "mock/other")).status).toBe(200);
  });

  test("/v1/models lists only what the key may use", async () => {
    const ids = async (key: string) =>
      ((await (await fetch(`${gw.url}/v1/models`, { headers: bearer(key) })).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id).sort();
    expect(await ids(TEAM)).toEqual(["mock/echo-1", "smart"]);
    expect(await ids(PLAIN)).toEqual(["mock/echo-1", "mock/other", "openai/gpt-4o-mini", "smart"]);
  });
});

describe("per-key limits", () => {
  test("rpm: the request past the limit is a 429 with Retry-After; other keys are unaffected", async () => {
    expect((await chat(bearer(RPM))).status).toBe(200);
    expect((await chat(bearer(RPM))).status).toBe(200);
    const limited = await chat(bearer(RPM));
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get("x-request-id")).toBeTruthy();
    const body = await errorJson(limited);
    expect(body.error.type).toBe("rate_limit_exceeded");
    expect(body.error.code).toBe("rate_limit_exceeded");
    expect(body.error.message).toContain("rpm-two");
    expect(body.error.message).toContain("2 requests per minute");
    expect(JSON.stringify(body)).not.toContain(RPM);
    expect((await chat(bearer(PLAIN))).status).toBe(200);
  });

  test("concurrency: a second request while one is in flight is a 429 with Retry-After; the slot frees when it ends", async () => {
    let finish!: () => void;
    const held = new Promise<void>((r) => (finish = r));
    upstream.script = async (c) => {
      await held;
      return jsonResponse(completion(c.body.model, "done"));
    };
    const n = upstream.calls.length + 1;
    const first = chat(bearer(NARROW), "openai/gpt-4o-mini");
    await upstream.waitForCall(n); // the first request holds the key's only slot now
    const second = await chat(bearer(NARROW), "openai/gpt-4o-mini");
    expect(second.status).toBe(429);
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = await errorJson(second);
    expect(body.error.type).toBe("rate_limit_exceeded");
    expect(body.error.message).toContain("1 concurrent requests");
    expect(upstream.calls.length).toBe(n); // the refused request never reached the upstream
    // Another key is not held back by this one.
    expect((await chat(bearer(PLAIN))).status).toBe(200);
    finish();
    expect((await first).status).toBe(200);
    upstream.script = (c) => jsonResponse(completion(c.body.model, "again"));
    expect((await chat(bearer(NARROW), "openai/gpt-4o-mini")).status).toBe(200);
  });

  test("concurrency: a stream holds its slot until it ends", async () => {
    let finish!: () => void;
    const held = new Promise<void>((r) => (finish = r));
    const enc = new TextEncoder();
    upstream.script = (c) =>
      new Response(
        new ReadableStream({
          async start(controller) {
            const chunk = { id: "x", object: "chat.completion.chunk", created: 1, model: c.body.model, choices: [{ index: 0, delta: { role: "assistant", content: "a" }, finish_reason: null }] };
            controller.enqueue(enc.encode(`data: ${JSON.stringify(chunk)}\n\n`));
            await held;
            controller.enqueue(enc.encode("data: [DONE]\n\n"));
            controller.close();
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(NARROW) },
      body: JSON.stringify({ model: "openai/gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the first event is here: the stream is live
    expect((await chat(bearer(NARROW), "openai/gpt-4o-mini")).status).toBe(429);
    finish();
    while (!(await reader.read()).done);
    upstream.script = (c) => jsonResponse(completion(c.body.model, "after"));
    expect((await chat(bearer(NARROW), "openai/gpt-4o-mini")).status).toBe(200);
  });
});

describe("secrets in logs", () => {
  test("no gateway key value appears in any log line; labels do", async () => {
    await logsSettled();
    const all = gw.logs.join("\n");
    for (const s of SECRETS) expect(all).not.toContain(s);
    expect(all).toContain("rate_limit");
    // access lines name the key by its label
    const access = gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request" && l.route === "/v1/chat/completions");
    expect(new Set(access.map((l) => l.key))).toContain("narrow");
  });
});
