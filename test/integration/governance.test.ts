// Retries, failover, concurrency limits and deadlines against mock upstreams that fail in scripted ways.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";
import { completion, defaultScript, jsonResponse, openaiError, sseResponse, startOpenAIMock, textChunks, type OpenAIMock } from "../mocks/openai-upstream.ts";

let primary: OpenAIMock;
let backup: OpenAIMock;
let gw: TestGateway;
let client: OpenAI;

const ask = (model: string, extra: Record<string, unknown> = {}) =>
  client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], ...extra } as any);

beforeAll(async () => {
  primary = startOpenAIMock();
  backup = startOpenAIMock();
  gw = await startGateway(`
[server]
timeout_secs = 10
[providers.openai]
api_key = "k1"
base_url = "${primary.url}"
max_concurrent = 2
timeout_secs = 0.3
default_model = "gpt-primary"
[providers.backup]
type = "openai"
api_key = "k2"
base_url = "${backup.url}"
timeout_secs = 0.3
default_model = "gpt-backup"
[governance]
max_retries = 2
backoff_base_ms = 5
backoff_max_ms = 20
fallback_order = ["backup"]
breaker_failures = 2
breaker_cooldown_secs = 60
[models.smart]
targets = ["openai/gpt-4o", "backup/gpt-4o-b"]
[models.pool]
targets = [[{ target = "openai/pool-a", weight = 1 }, { target = "backup/pool-b", weight = 1 }]]
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "x", maxRetries: 0 });
});
afterAll(async () => {
  await gw.stop(false);
  primary.stop();
  backup.stop();
});
afterEach(() => {
  primary.script = defaultScript;
  backup.script = defaultScript;
  primary.calls.length = 0;
  backup.calls.length = 0;
  primary.maxInFlight = 0;
});

describe("retries", () => {
  test("429 twice then success: 3 upstream calls, one answer", async () => {
    primary.script = (c) => (c.n <= 2 ? openaiError(429, "slow down", "rate_limit_error", null, { "retry-after-ms": "10" }) : jsonResponse(completion(c.body.model, "third time")));
    const { data, response } = await ask("openai/gpt-4o").withResponse();
    expect(data.choices[0]!.message.content).toBe("third time");
    expect(primary.calls.length).toBe(3);
    expect(response.headers.get("x-alloy-provider")).toBe("openai");
  });

  test("429 forever: 1 + max_retries calls on each target, then 429 to the client", async () => {
    primary.script = () => openaiError(429, "quota", "rate_limit_error", null, { "retry-after-ms": "20" });
    backup.script = () => openaiError(429, "quota too", "rate_limit_error");
    const err: any = await ask("smart").catch((e) => e);
    expect(err.status).toBe(429);
    expect(primary.calls.length).toBe(3);
    expect(backup.calls.length).toBe(3);
  });

  test("400 is not retried and not failed over", async () => {
    primary.script = () => openaiError(400, "bad tool schema");
    const err: any = await ask("smart").catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.message).toContain("bad tool schema");
    expect(primary.calls.length).toBe(1);
    expect(backup.calls.length).toBe(0);
  });

  test("a streamed request is retried before its first byte", async () => {
    primary.script = (c) => (c.n === 1 ? openaiError(503, "warming up", "server_error") : sseResponse(textChunks(c.body.model, ["ok", "!"], true)));
    const stream = await ask("openai/gpt-4o", { stream: true });
    let text = "";
    for await (const ch of stream as any) text += ch.choices[0]?.delta?.content ?? "";
    expect(text).toBe("ok!");
    expect(primary.calls.length).toBe(2);
  });

  test("a failure after the first byte is not retried: the client gets the SSE error event and no [DONE]", async () => {
    primary.script = (c) => sseResponse([...textChunks(c.body.model, ["partial"], false).slice(0, 2), "data: {broken json\n\n"], { done: false });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/gpt-4o", stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain('"content":"partial"');
    const events = text.trim().split("\n\n");
    expect(JSON.parse(events[events.length - 1]!.slice(6)).error.type).toBe("upstream_error");
    expect(text).not.toContain("[DONE]");
    expect(primary.calls.length).toBe(1);
  });

  test("a slow upstream past its per-attempt timeout is retried, failed over, then 504", async () => {
    const hang = async (_c: unknown, signal: AbortSignal) => {
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
      return new Response("never");
    };
    primary.script = hang;
    backup.script = hang;
    // The same two upstreams behind a gateway whose per-attempt timeout is short: six attempts that all hang take
    // 6 × 0.05 s, and the shared gateway keeps its 0.3 s of headroom for ordinary answers.
    const quick = await startGateway(`
[providers.openai]
api_key = "k1"
base_url = "${primary.url}"
timeout_secs = 0.05
[providers.backup]
type = "openai"
api_key = "k2"
base_url = "${backup.url}"
timeout_secs = 0.05
default_model = "gpt-backup"
[governance]
max_retries = 2
backoff_base_ms = 5
backoff_max_ms = 20
fallback_order = ["backup"]
`);
    try {
      const res = await fetch(`${quick.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "openai/gpt-x", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(504);
      const err = (await res.json()) as { error: { type: string; message: string } };
      expect(err.error.type).toBe("upstream_timeout");
      expect(err.error.message).toContain("0.05s");
      expect(primary.calls.length).toBe(3);
      expect(backup.calls.length).toBe(3);
      await waitFor(() => primary.calls.every((c) => c.aborted), "the timed-out upstream calls to be cancelled");
    } finally {
      await quick.stop(false);
    }
  });
});

describe("failover", () => {
  test("500 on an alias's primary: the next target answers, and the header says which", async () => {
    primary.script = () => openaiError(500, "boom", "server_error");
    const { data, response } = await ask("smart").withResponse();
    expect(data.choices[0]!.message.content).toBe("Hello from mock");
    expect(backup.calls[0]!.body.model).toBe("gpt-4o-b");
    expect(primary.calls.length).toBe(3);
    expect(response.headers.get("x-alloy-provider")).toBe("backup");
  });

  test("a provider/model request fails over through fallback_order with the default_model", async () => {
    primary.script = () => openaiError(502, "bad gateway", "server_error");
    const { response } = await ask("openai/gpt-4o").withResponse();
    expect(response.headers.get("x-alloy-provider")).toBe("backup");
    expect(backup.calls[0]!.body.model).toBe("gpt-backup");
    await logsSettled();
    const access = gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request").pop();
    expect(access.failovers).toBe(1);
    expect(access.attempts).toBe(4);
    expect(access.provider).toBe("backup");
    // each failed attempt has its own warn line, tagged with the same request id
    const failed = gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "upstream attempt failed" && l.requestId === access.requestId);
    expect(failed.length).toBe(3);
    expect(failed[0]).toMatchObject({ level: "warn", provider: "openai", upstreamModel: "gpt-4o", error: "server", status: 502, retryable: true });
  });
});

describe("concurrency", () => {
  test("max_concurrent = 2 under 20 parallel slow requests: never more than 2 upstream at once, all succeed", async () => {
    primary.script = async (c) => {
      await Bun.sleep(15);
      return jsonResponse(completion(c.body.model, "slow"));
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => ask("openai/gpt-4o")));
    expect(results.every((r) => r.choices[0]!.message.content === "slow")).toBe(true);
    expect(primary.calls.length).toBe(20);
    expect(primary.maxInFlight).toBe(2);
    expect(gw.gateway.upstreams.get("openai")!.limiter.inFlight).toBe(0);
  });

  test("a client that disconnects mid-stream gets its slot back", async () => {
    primary.script = (c, signal) => sseResponse(textChunks(c.body.model, ["a", "b", "c"], false), { hangAfter: 2, signal });
    const limiter = gw.gateway.upstreams.get("openai")!.limiter;
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      signal: ac.signal,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/gpt-4o", stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    expect(limiter.inFlight).toBe(1);
    const aborted = primary.waitForAbort();
    ac.abort();
    await aborted;
    await waitFor(() => limiter.inFlight === 0, "the stream's slot to come back");
    expect(limiter.queued).toBe(0);
  });
});

describe("load balancing", () => {
  test("requests spread over equivalent deployments; a failing one is taken out of rotation", async () => {
    const seen = await Promise.all(Array.from({ length: 20 }, () => ask("pool").withResponse()));
    const providers = new Set(seen.map((s) => s.response.headers.get("x-alloy-provider")));
    expect(providers).toEqual(new Set(["openai", "backup"]));

    primary.script = () => openaiError(500, "down", "server_error");
    primary.calls.length = 0;
    backup.calls.length = 0;
    for (let i = 0; i < 10; i++) {
      const { response } = await ask("pool").withResponse();
      expect(response.headers.get("x-alloy-provider")).toBe("backup");
    }
    // two failures open the breaker; after that the primary sees no more traffic
    expect(primary.calls.length).toBeLessThanOrEqual(2);
  });
});

describe("bounded state", () => {
  test("model names a client makes up leave no per-model state behind in the balancer", async () => {
    const before = gw.gateway.balancer.tracked;
    await Promise.all(Array.from({ length: 50 }, (_, i) => ask(`openai/made-up-${i}-${Math.random()}`)));
    expect(gw.gateway.balancer.tracked).toBe(before);
    expect(before).toBeLessThanOrEqual(2); // only the pool alias's two deployments
  });
});

describe("the request deadline", () => {
  test("a request still queued at its deadline gets 429 with Retry-After; one in flight at its deadline gets 504", async () => {
    const up = startOpenAIMock(async (c, signal) => {
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
      return new Response("never");
    });
    const g = await startGateway(`
[server]
timeout_secs = 30
[providers.openai]
api_key = "k"
base_url = "${up.url}"
max_concurrent = 1
timeout_secs = 30
[governance]
max_retries = 0
`);
    try {
      const send = (deadline: string) =>
        fetch(`${g.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-alloy-timeout-secs": deadline },
          body: JSON.stringify({ model: "openai/gpt-4o", messages: [{ role: "user", content: "x" }] }),
        });
      // The first holds the only slot until its deadline of 0.6 s; the second may wait 0.1 s of it.
      const first = send("0.6");
      await up.waitForCall(1);
      const second = await send("0.1");
      expect(second.status).toBe(429);
      expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(((await second.json()) as any).error.type).toBe("rate_limit_exceeded");
      const r1 = await first;
      expect(r1.status).toBe(504);
      expect(((await r1.json()) as any).error.message).toContain("deadline of 0.6s");
      expect(up.calls.length).toBe(1);
      expect((await up.waitForAbort()).n).toBe(1); // the deadline also cancelled the upstream call
    } finally {
      await g.stop(false);
      up.stop();
    }
  });
});
