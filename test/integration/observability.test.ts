// Logs and metrics of a real gateway over real sockets: access lines, request ids on every line and every response,
// no secret in any line (debug level, failing upstreams), and /metrics moving by exactly what the traffic did.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";
import { completion, defaultScript, jsonResponse, openaiError, startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

const UPSTREAM_KEY = "sk-upstream-secret-abcdef123456";
const GROQ_KEY = "gsk-other-secret-998877";
const GATEWAY_KEY = "alloy-gateway-key-xyz-42";

let upstream: OpenAIMock;
let gw: TestGateway;
let release: () => void = () => {};

beforeAll(async () => {
  upstream = startOpenAIMock();
  gw = await startGateway(`
[server]
timeout_secs = 10
api_keys = ["${GATEWAY_KEY}"]
[providers.openai]
api_key = "${UPSTREAM_KEY}"
base_url = "${upstream.url}"
models = ["gpt-4o-mini"]
[providers.held]
type = "openai"
api_key = "${GROQ_KEY}"
base_url = "${upstream.url}"
max_concurrent = 1
models = ["held-model"]
[providers.mock]
type = "mock"
models = ["echo"]
[providers.slow]
type = "mock"
latency_ms = 300
models = ["echo"]
[governance]
max_retries = 1
backoff_base_ms = 0
backoff_max_ms = 0
[models.smart]
targets = ["openai/gpt-4o-mini", "mock/echo"]
`);
});
afterAll(async () => {
  release();
  await gw.stop(false);
  upstream.stop();
});

const AUTH = { authorization: `Bearer ${GATEWAY_KEY}` };

function chat(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...AUTH, ...headers },
    body: JSON.stringify(body),
  });
}

const msgs = (text: string) => [{ role: "user", content: text }];
const lines = () => gw.logs.map((l) => JSON.parse(l) as Record<string, any>);
const accessLine = async (id: string) => {
  await logsSettled();
  return lines().find((l) => l.msg === "request" && l.requestId === id);
};

// --- a small Prometheus text parser: name, labels, value per sample ---
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
async function scrape(): Promise<Sample[]> {
  const res = await fetch(`${gw.url}/metrics`, { headers: AUTH });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  const out: Sample[] = [];
  for (const line of (await res.text()).split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return out;
}
/** Sum of the samples of `name` whose labels include all of `want`. */
function value(samples: Sample[], name: string, want: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) if (s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  return sum;
}
async function delta<T>(run: () => Promise<T>): Promise<{ result: T; d: (name: string, want?: Record<string, string>) => number; after: Sample[] }> {
  const before = await scrape();
  const result = await run();
  const after = await scrape();
  return { result, after, d: (name, want) => value(after, name, want) - value(before, name, want) };
}

describe("access log", () => {
  test("a JSON completion leaves one access line with every field, under the client's request id", async () => {
    const res = await chat({ model: "mock/echo", messages: msgs("hello access log") }, { "x-request-id": "client-id-json-1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("client-id-json-1");
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
    await logsSettled();
    const found = lines().filter((l) => l.msg === "request" && l.requestId === "client-id-json-1");
    expect(found.length).toBe(1);
    const a = found[0]!;
    expect(a).toMatchObject({
      level: "info",
      method: "POST",
      route: "/v1/chat/completions",
      status: 200,
      model: "mock/echo",
      provider: "mock",
      upstreamModel: "echo",
      attempts: 1,
      retries: 0,
      failovers: 0,
      stream: false,
      promptTokens: body.usage.prompt_tokens,
      completionTokens: body.usage.completion_tokens,
      totalTokens: body.usage.total_tokens,
      finishReason: "stop",
    });
    expect(Number.isNaN(Date.parse(a.time))).toBe(false);
    expect(typeof a.ttfbMs).toBe("number");
    expect(a.durationMs).toBeGreaterThanOrEqual(a.ttfbMs);
    expect(a.error).toBeUndefined();
  });

  test("a stream: generated request id on the SSE response and its access line, stream true, usage, ttfb", async () => {
    const res = await chat({ model: "mock/echo", messages: msgs("one two three"), stream: true });
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    const id = res.headers.get("x-request-id")!;
    expect(id).toMatch(/^req_/);
    expect(await res.text()).toEndWith("data: [DONE]\n\n");
    expect(await accessLine(id)).toMatchObject({ status: 200, stream: true, provider: "mock", model: "mock/echo", promptTokens: 3, completionTokens: 5 });
    expect(typeof (await accessLine(id))!.ttfbMs).toBe("number");
  });

  test("retries and failovers are counted on the access line", async () => {
    upstream.script = () => openaiError(500, "upstream exploded", "server_error");
    const res = await chat({ model: "smart", messages: msgs("fail over please") }, { "x-request-id": "client-failover-1" });
    expect(res.status).toBe(200);
    expect(await accessLine("client-failover-1")).toMatchObject({ model: "smart", provider: "mock", upstreamModel: "echo", attempts: 3, retries: 1, failovers: 1 });
    upstream.script = defaultScript;
  });

  test("failures: error class and message on the access line, warn level for 5xx", async () => {
    upstream.script = () => openaiError(503, "overloaded right now", "server_error");
    const res = await chat({ model: "openai/gpt-4o-mini", messages: msgs("x") }, { "x-request-id": "client-fail-1" });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-request-id")).toBe("client-fail-1");
    expect(await accessLine("client-fail-1")).toMatchObject({ level: "warn", status: 503, error: "overloaded", provider: "openai", attempts: 2, retries: 1 });
    expect((await accessLine("client-fail-1"))!.errorMessage).toContain("overloaded right now");
    upstream.script = defaultScript;
  });

  test("other routes leave access lines too; /health only at debug and never with a secret", async () => {
    const models = await fetch(`${gw.url}/v1/models`, { headers: { ...AUTH, "x-request-id": "client-models-1" } });
    expect(models.headers.get("x-request-id")).toBe("client-models-1");
    expect(await accessLine("client-models-1")).toMatchObject({ level: "info", method: "GET", route: "/v1/models", status: 200 });
    const health = await fetch(`${gw.url}/health`, { headers: { "x-request-id": "client-health-1" } });
    expect(health.headers.get("x-request-id")).toBe("client-health-1");
    expect(await accessLine("client-health-1")).toMatchObject({ level: "debug", route: "/health", status: 200 });
  });
});

describe("x-request-id on every response", () => {
  test("errors before routing: invalid JSON (400), unknown model (404), unknown route (404); given and generated", async () => {
    const bad = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { ...AUTH, "content-type": "application/json", "x-request-id": "client-bad-1" }, body: "{nope" });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("x-request-id")).toBe("client-bad-1");
    expect(await accessLine("client-bad-1")).toMatchObject({ status: 400, error: "bad_request" });

    const unknown = await chat({ model: "no-such-model-family", messages: msgs("x") });
    expect(unknown.status).toBe(404);
    const uid = unknown.headers.get("x-request-id")!;
    expect(uid).toMatch(/^req_/);
    expect(await accessLine(uid)).toMatchObject({ status: 404, error: "not_found", model: "no-such-model-family" });

    const route = await fetch(`${gw.url}/v1/nowhere/at/all`, { headers: { ...AUTH, "x-request-id": "client-route-1" } });
    expect(route.status).toBe(404);
    expect(route.headers.get("x-request-id")).toBe("client-route-1");
    expect(await accessLine("client-route-1")).toMatchObject({ status: 404, route: "unmatched" });

    const generated = await fetch(`${gw.url}/v1/nowhere`, { headers: AUTH });
    expect(generated.headers.get("x-request-id")).toMatch(/^req_/);
  });

  test("an unusable client id (too long, control characters) is replaced, not echoed", async () => {
    const res = await chat({ model: "mock/echo", messages: msgs("x") }, { "x-request-id": "x".repeat(500) });
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
  });

  test("the request id goes upstream", async () => {
    const n = upstream.calls.length;
    await chat({ model: "openai/gpt-4o-mini", messages: msgs("x") }, { "x-request-id": "client-upstream-1" });
    expect(upstream.calls[n]!.headers["x-request-id"]).toBe("client-upstream-1");
  });
});

describe("debug lines", () => {
  test("prompt and completion text are logged at debug, and every line of the request carries its id", async () => {
    const marker = "marker-7f3a-json";
    await chat({ model: "mock/echo", messages: msgs(marker) }, { "x-request-id": "client-debug-1" });
    const smarker = "marker-7f3a-stream";
    const s = await chat({ model: "mock/echo", messages: msgs(smarker), stream: true }, { "x-request-id": "client-debug-2" });
    await s.text();
    await logsSettled();
    for (const [m, id] of [
      [marker, "client-debug-1"],
      [smarker, "client-debug-2"],
    ] as const) {
      const mine = gw.logs.filter((l) => l.includes(m)).map((l) => JSON.parse(l));
      expect(mine.map((l) => l.msg).sort()).toEqual(["completion", "prompt"]);
      for (const l of mine) expect(l.requestId).toBe(id);
      expect(mine.find((l) => l.msg === "completion")!.message.content).toBe(`You said: ${m}`);
      expect(lines().filter((l) => l.requestId === id).length).toBe(3); // prompt, completion, access
    }
  });
});

describe("secrets", () => {
  test("no provider key, gateway key or client credential in any line, even at debug with failing upstreams", async () => {
    upstream.script = (c) =>
      c.body.model === "held-model"
        ? openaiError(401, `Incorrect API key provided: ${GROQ_KEY}`, "invalid_request_error", "invalid_api_key")
        : openaiError(500, `boom, your header was ${c.headers.authorization}`, "server_error");
    await chat({ model: "openai/gpt-4o-mini", messages: msgs(`my key is ${UPSTREAM_KEY}`) }, { "x-api-key": GATEWAY_KEY });
    await chat({ model: "held/held-model", messages: msgs("x") });
    await chat({ model: "held/held-model", messages: msgs("x"), stream: true });
    await chat({ model: "mock/echo", messages: msgs("x") }, { authorization: "Bearer sk-client-wrong-key-0123456789" });
    upstream.script = defaultScript;
    const all = gw.logs.join("");
    expect(all).toContain("[REDACTED]");
    for (const secret of [UPSTREAM_KEY, GROQ_KEY, GATEWAY_KEY, "sk-client-wrong-key-0123456789"]) expect(all).not.toContain(secret);
  });
});

describe("metrics", () => {
  test("requests, durations, TTFT, tokens and attempts move by exactly the traffic", async () => {
    const { result, d } = await delta(async () => {
      const a = (await (await chat({ model: "mock/echo", messages: msgs("count me in") })).json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
      const s = await chat({ model: "mock/echo", messages: msgs("and me too please"), stream: true, stream_options: { include_usage: true } });
      const usage = JSON.parse((await s.text()).split("\n\n").filter((e) => e.includes('"usage":{'))[0]!.slice(6)).usage;
      return { a: a.usage, s: usage };
    });
    const m = { provider: "mock", model: "mock/echo" };
    expect(d("alloy_requests_total", { ...m, status: "200" })).toBe(2);
    expect(d("alloy_http_requests_total", { route: "/v1/chat/completions", status: "200" })).toBe(2);
    expect(d("alloy_request_duration_seconds_count", m)).toBe(2);
    expect(d("alloy_request_duration_seconds_bucket", { ...m, le: "+Inf" })).toBe(2);
    expect(d("alloy_time_to_first_token_seconds_count", m)).toBe(1);
    expect(d("alloy_tokens_total", { provider: "mock", model: "echo", type: "prompt" })).toBe(result.a.prompt_tokens + result.s.prompt_tokens);
    expect(d("alloy_tokens_total", { provider: "mock", model: "echo", type: "completion" })).toBe(result.a.completion_tokens + result.s.completion_tokens);
    expect(d("alloy_upstream_attempt_duration_seconds_count", { provider: "mock", model: "echo", outcome: "ok" })).toBe(2);
  });

  test("histogram buckets: a 300 ms answer is counted above le=0.25 and not below", async () => {
    const { d, after } = await delta(() => chat({ model: "slow/echo", messages: msgs("slow") }).then((r) => r.json()));
    const m = { provider: "slow", model: "slow/echo" };
    expect(d("alloy_request_duration_seconds_bucket", { ...m, le: "0.25" })).toBe(0);
    expect(d("alloy_request_duration_seconds_bucket", { ...m, le: "+Inf" })).toBe(1);
    expect(d("alloy_request_duration_seconds_sum", m)).toBeGreaterThanOrEqual(0.3);
    // Buckets are cumulative: never decreasing with le.
    const buckets = after.filter((s) => s.name === "alloy_request_duration_seconds_bucket" && s.labels.provider === "slow").map((s) => s.value);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!).toBeGreaterThanOrEqual(buckets[i - 1]!);
  });

  test("retries, failovers and failed attempts by outcome", async () => {
    let n = 0;
    upstream.script = (c) => (++n === 1 ? openaiError(503, "busy", "server_error") : jsonResponse(completion(c.body.model, "ok")));
    const retry = await delta(() => chat({ model: "openai/gpt-4o-mini", messages: msgs("x") }));
    expect(retry.result.status).toBe(200);
    expect(retry.d("alloy_retries_total", { provider: "openai" })).toBe(1);
    expect(retry.d("alloy_upstream_attempt_duration_seconds_count", { provider: "openai", model: "gpt-4o-mini", outcome: "overloaded" })).toBe(1);
    expect(retry.d("alloy_upstream_attempt_duration_seconds_count", { provider: "openai", model: "gpt-4o-mini", outcome: "ok" })).toBe(1);
    expect(retry.d("alloy_failovers_total")).toBe(0);

    upstream.script = () => openaiError(500, "down", "server_error");
    const fo = await delta(() => chat({ model: "smart", messages: msgs("x") }));
    expect(fo.result.status).toBe(200);
    expect(fo.d("alloy_failovers_total", { from: "openai", to: "mock" })).toBe(1);
    expect(fo.d("alloy_retries_total", { provider: "openai" })).toBe(1);
    expect(fo.d("alloy_upstream_attempt_duration_seconds_count", { provider: "openai", outcome: "server" })).toBe(2);
    expect(fo.d("alloy_requests_total", { provider: "mock", model: "smart", status: "200" })).toBe(1);
    upstream.script = defaultScript;
  });

  test("label values stay bounded: unknown model names become `other`, never the client's string", async () => {
    const { d, after } = await delta(() => chat({ model: "mock/client-invented-model-1234", messages: msgs("x") }));
    expect(d("alloy_requests_total", { provider: "mock", model: "other", status: "200" })).toBe(1);
    expect(d("alloy_tokens_total", { provider: "mock", model: "other" })).toBeGreaterThan(0);
    expect(after.some((s) => Object.values(s.labels).some((v) => v.includes("client-invented")))).toBe(false);
    const route = await delta(() => fetch(`${gw.url}/some/random/path-5678`, { headers: AUTH }));
    expect(route.d("alloy_http_requests_total", { route: "unmatched", status: "404" })).toBe(1);
    expect(route.after.some((s) => Object.values(s.labels).some((v) => v.includes("path-5678")))).toBe(false);
  });

  test("in-flight and queue-depth gauges per provider, read from the limiter at scrape time", async () => {
    const held = new Promise<void>((r) => (release = r));
    upstream.script = async (c) => {
      await held;
      return jsonResponse(completion(c.body.model, "released"));
    };
    const n = upstream.calls.length;
    const first = chat({ model: "held/held-model", messages: msgs("1") });
    await upstream.waitForCall(n + 1);
    const second = chat({ model: "held/held-model", messages: msgs("2") });
    // The second request queues behind max_concurrent = 1; wait (by scraping, not sleeping) until it shows.
    let samples = await scrape();
    for (let i = 0; i < 500 && value(samples, "alloy_upstream_queue_depth", { provider: "held" }) !== 1; i++) samples = await scrape();
    expect(value(samples, "alloy_upstream_queue_depth", { provider: "held" })).toBe(1);
    expect(value(samples, "alloy_upstream_in_flight", { provider: "held" })).toBe(1);
    expect(value(samples, "alloy_upstream_max_concurrent", { provider: "held" })).toBe(1);
    expect(value(samples, "alloy_upstream_in_flight", { provider: "mock" })).toBe(0);
    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    const done = await scrape();
    expect(value(done, "alloy_upstream_in_flight", { provider: "held" })).toBe(0);
    expect(value(done, "alloy_upstream_queue_depth", { provider: "held" })).toBe(0);
    upstream.script = defaultScript;
  });

  test("build info and the scrape itself: /metrics has x-request-id and logs only at debug", async () => {
    const res = await fetch(`${gw.url}/metrics`, { headers: { ...AUTH, "x-request-id": "client-scrape-1" } });
    expect(res.headers.get("x-request-id")).toBe("client-scrape-1");
    expect(await res.text()).toContain('alloy_build_info{version="0.1.0"} 1');
    expect(await accessLine("client-scrape-1")).toMatchObject({ level: "debug", route: "/metrics" });
  });
});

describe("MCP tool call metrics", () => {
  test("each tool call counts by server, tool and status, with its duration", async () => {
    const stdio = new URL("../mocks/mcp/stdio-server.ts", import.meta.url).pathname;
    const mgw = await startGateway(`
[providers.mock]
type = "mock"
[mcp.servers.local]
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(stdio)}]
env = { MOCK_LABEL = "local", MOCK_MODE = "normal" }
`);
    try {
      await mgw.mcp!.whenConnected();
      const call = (name: string, args: Record<string, unknown> = {}) =>
        fetch(`${mgw.url}/v1/mcp/tools/call`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, arguments: args }) });
      const read = async () => {
        const text = await (await fetch(`${mgw.url}/metrics`)).text();
        return (line: string) => Number(text.split("\n").find((l) => l.startsWith(`${line} `))?.split(" ")[1] ?? 0);
      };
      const before = await read();
      expect((await call("local__add", { a: 1, b: 2 })).status).toBe(200);
      expect((await call("local__add", { a: 3, b: 4 })).status).toBe(200);
      expect((await call("local__fail")).status).toBe(200);
      const after = await read();
      const d = (line: string) => after(line) - before(line);
      expect(d('alloy_mcp_tool_calls_total{server="local",tool="add",status="ok"}')).toBe(2);
      expect(d('alloy_mcp_tool_calls_total{server="local",tool="fail",status="error"}')).toBe(1);
      expect(d('alloy_mcp_tool_call_duration_seconds_count{server="local",tool="add"}')).toBe(2);
      expect(d('alloy_mcp_tool_call_duration_seconds_bucket{server="local",tool="fail",le="+Inf"}')).toBe(1);
    } finally {
      await mgw.stop(false);
    }
  });
});
