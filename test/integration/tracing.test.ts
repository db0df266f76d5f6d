// Traces end to end: the gateway exports OTLP/HTTP protobuf to a local receiver that decodes it. Span tree, GenAI
// attributes with the mock provider's exact usage, W3C trace context in and out, redaction by default, content with
// capture_content, and a dead collector that neither slows requests nor grows memory (its drops are counted).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { startStreamableMcp } from "../mocks/mcp/http-server.ts";
import type { MockHttpMcp } from "../mocks/mcp/sse-server.ts";
import { toolModel } from "../mocks/mcp/tool-model.ts";
import { startOpenAIMock, openaiError, type OpenAIMock } from "../mocks/openai-upstream.ts";
import { startCollector, type CollectedSpan, type Collector } from "../mocks/otlp-collector.ts";

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;

let collector: Collector;
let upstream: OpenAIMock;
let flaky: OpenAIMock;
let mcp: MockHttpMcp;
let gw: TestGateway;
let capturing: TestGateway;

const config = (extra: string) => `
[providers.mock]
type = "mock"
[providers.openai]
api_key = "sk-upstream"
base_url = "${upstream.url}"
[providers.flaky]
type = "openai"
api_key = "sk-flaky"
base_url = "${flaky.url}"
[governance]
max_retries = 1
backoff_base_ms = 1
backoff_max_ms = 2
[models.assistant]
targets = ["openai/gpt-4o"]
mcp_servers = ["remote"]
[mcp.servers.remote]
transport = "streamable-http"
url = "${mcp.url}"
[observability.tracing]
otlp_endpoint = "${collector.url}"
scheduled_delay_ms = 10
${extra}
`;

beforeAll(async () => {
  collector = startCollector();
  upstream = startOpenAIMock(toolModel);
  flaky = startOpenAIMock();
  mcp = await startStreamableMcp("remote");
  gw = await startGateway(config(""));
  capturing = await startGateway(config("capture_content = true"));
  await Promise.all([gw.mcp!.whenConnected(), capturing.mcp!.whenConnected()]);
});

afterAll(async () => {
  await Promise.all([gw?.stop(false), capturing?.stop(false)]);
  upstream?.stop();
  flaky?.stop();
  await mcp?.close();
  collector?.stop();
});

let traceSeq = 0;
/** A fresh client trace: its traceparent, trace id and the client span id the gateway's SERVER span must hang from. */
function clientTrace() {
  const traceId = (++traceSeq).toString(16).padStart(8, "0") + crypto.randomUUID().replace(/-/g, "").slice(8);
  const parent = crypto.randomUUID().replace(/-/g, "").slice(0, 16);
  return { traceId, parent, traceparent: `00-${traceId}-${parent}-01` };
}

function chat(g: TestGateway, body: unknown, traceparent?: string) {
  return fetch(`${g.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(traceparent ? { traceparent } : {}) },
    body: JSON.stringify(body),
  });
}

/** The spans of one trace, once the SERVER span (ended last) and `n` spans in all have arrived. */
function traceOf(traceId: string, n: number): Promise<CollectedSpan[]> {
  return collector.waitFor(
    (s) => s.traceId === traceId,
    (spans) => spans.length >= n && spans.some((s) => s.kind === SERVER),
  );
}

const one = (spans: CollectedSpan[], pred: (s: CollectedSpan) => boolean) => {
  const hit = spans.filter(pred);
  expect(hit.length).toBe(1);
  return hit[0]!;
};

/** Every string attribute and event attribute value of these spans, for redaction checks. */
const allText = (spans: CollectedSpan[]) =>
  JSON.stringify(spans.map((s) => [s.attributes, s.events.map((e) => e.attributes), s.status.message]));

describe("spans of a chat completion", () => {
  test("a SERVER span continues the client's trace; its CLIENT span has the GenAI attributes and the mock's exact usage", async () => {
    const t = clientTrace();
    const res = await chat(gw, { model: "mock/echo-1", messages: [{ role: "user", content: "secret words here" }], max_tokens: 50, temperature: 0.5 }, t.traceparent);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: unknown };
    const spans = await traceOf(t.traceId, 2);
    expect(spans).toHaveLength(2);
    const server = one(spans, (s) => s.kind === SERVER);
    expect(server.name).toBe("POST /v1/chat/completions");
    expect(server.parentSpanId).toBe(t.parent);
    expect(server.attributes).toEqual({
      "http.request.method": "POST",
      "http.route": "/v1/chat/completions",
      "http.response.status_code": 200,
      "alloy.request_id": res.headers.get("x-request-id")!,
    });
    const client = one(spans, (s) => s.kind === CLIENT);
    expect(client.name).toBe("chat echo-1");
    expect(client.parentSpanId).toBe(server.spanId);
    // The mock counts words: 3 in the prompt, 5 in "You said: secret words here".
    expect(body.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 5 });
    expect(client.attributes).toEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "mock",
      "gen_ai.request.model": "echo-1",
      "gen_ai.response.model": "echo-1",
      "gen_ai.request.max_tokens": 50,
      "gen_ai.request.temperature": 0.5,
      "gen_ai.usage.input_tokens": 3,
      "gen_ai.usage.output_tokens": 5,
      "gen_ai.response.finish_reasons": ["stop"],
      "alloy.provider": "mock",
    });
    expect(client.startNs).toBeGreaterThanOrEqual(server.startNs);
    expect(client.endNs).toBeLessThanOrEqual(server.endNs);
    expect(server.resource["service.name"]).toBe("alloy");
    // Redaction by default: the prompt and the answer are nowhere in the trace.
    expect(allText(spans)).not.toContain("secret words");
  });

  test("a stream: the CLIENT span gets the usage and finish reason when the stream ends", async () => {
    const t = clientTrace();
    const res = await chat(gw, { model: "mock/echo-1", messages: [{ role: "user", content: "one two" }], stream: true, stream_options: { include_usage: true } }, t.traceparent);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("[DONE]");
    const spans = await traceOf(t.traceId, 2);
    const client = one(spans, (s) => s.kind === CLIENT);
    expect(client.attributes["gen_ai.usage.input_tokens"]).toBe(2);
    expect(client.attributes["gen_ai.usage.output_tokens"]).toBe(4); // "You said: one two"
    expect(client.attributes["gen_ai.response.finish_reasons"]).toEqual(["stop"]);
    expect(one(spans, (s) => s.kind === SERVER).attributes["http.response.status_code"]).toBe(200);
  });

  test("without a client traceparent the gateway starts a trace of its own", async () => {
    const res = await chat(gw, { model: "mock/solo", messages: [{ role: "user", content: "hi" }] });
    const id = res.headers.get("x-request-id")!;
    const [server] = await collector.waitFor((s) => s.attributes["alloy.request_id"] === id, (p) => p.length === 1);
    expect(server!.parentSpanId).toBe("");
    expect(server!.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("trace context to the upstream", () => {
  test("the upstream gets a traceparent of the same trace, with the CLIENT span as its parent", async () => {
    const t = clientTrace();
    const before = upstream.calls.length;
    const res = await chat(gw, { model: "openai/gpt-4o", messages: [{ role: "user", content: "hello" }] }, t.traceparent);
    expect(res.status).toBe(200);
    const call = upstream.calls[before]!;
    const m = call.headers.traceparent!.match(/^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(t.traceId);
    const spans = await traceOf(t.traceId, 2);
    const client = one(spans, (s) => s.kind === CLIENT);
    expect(m![2]).toBe(client.spanId);
    expect(client.attributes).toMatchObject({
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o",
      "gen_ai.response.model": "gpt-4o",
      "server.address": "127.0.0.1",
      "server.port": Number(new URL(upstream.url).port),
      // The mock OpenAI upstream's usage.
      "gen_ai.usage.input_tokens": 12,
      "gen_ai.usage.output_tokens": 5,
    });
  });

  test("with tracing on, a request with no trace of its own still sends one upstream (no header is left out)", async () => {
    const before = upstream.calls.length;
    await (await chat(gw, { model: "openai/gpt-4o", messages: [{ role: "user", content: "x" }] })).text();
    expect(upstream.calls[before]!.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});

describe("the tool loop and governance in the trace", () => {
  test("MCP: a CLIENT span per model round and an execute_tool span per tool call, all under the SERVER span", async () => {
    const t = clientTrace();
    const res = await chat(gw, { model: "assistant", messages: [{ role: "user", content: 'call remote__add {"a":20,"b":22}' }] }, t.traceparent);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toContain("42");
    const spans = await traceOf(t.traceId, 4);
    const server = one(spans, (s) => s.kind === SERVER);
    const rounds = spans.filter((s) => s.kind === CLIENT);
    expect(rounds.map((s) => s.name)).toEqual(["chat gpt-4o", "chat gpt-4o"]);
    for (const r of rounds) expect(r.parentSpanId).toBe(server.spanId);
    const tool = one(spans, (s) => s.name === "execute_tool remote__add");
    expect(tool.kind).toBe(INTERNAL);
    expect(tool.parentSpanId).toBe(server.spanId);
    expect(tool.attributes).toEqual({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "remote__add",
      "gen_ai.tool.type": "extension",
      "alloy.mcp.server": "remote",
      "alloy.mcp.tool": "add",
    });
    // The tool ran between the two model rounds.
    const [first, second] = rounds.sort((a, b) => Number(a.startNs - b.startNs));
    expect(tool.startNs).toBeGreaterThanOrEqual(first!.endNs);
    expect(tool.endNs).toBeLessThanOrEqual(second!.startNs);
  });

  test("a retry: the failed attempt's span has error.type, the request span the retry and backoff events", async () => {
    let n = 0;
    flaky.script = (call) => (++n === 1 ? openaiError(503, "overloaded", "server_error") : startOpenAIMockDefault(call));
    const t = clientTrace();
    const res = await chat(gw, { model: "flaky/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }, t.traceparent);
    expect(res.status).toBe(200);
    const spans = await traceOf(t.traceId, 3);
    const server = one(spans, (s) => s.kind === SERVER);
    const attempts = spans.filter((s) => s.kind === CLIENT).sort((a, b) => Number(a.startNs - b.startNs));
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.attributes["error.type"]).toBe("overloaded");
    expect(attempts[0]!.status.code).toBe(2);
    expect(attempts[0]!.attributes["gen_ai.usage.input_tokens"]).toBeUndefined();
    expect(attempts[1]!.attributes["error.type"]).toBeUndefined();
    expect(attempts[1]!.attributes["gen_ai.usage.input_tokens"]).toBe(12);
    expect(server.events.map((e) => e.name)).toEqual(["alloy.backoff", "alloy.retry"]);
    expect(server.events[0]!.attributes).toMatchObject({ "alloy.provider": "flaky", "error.type": "overloaded" });
    expect(server.events[1]!.attributes).toEqual({ "alloy.provider": "flaky", "alloy.attempt": 1 });
  });
});

/** The mock's default answer (echo), for scripts that fail first. */
function startOpenAIMockDefault(call: { body: any }) {
  return toolModel(call as never, new AbortController().signal);
}

describe("every route gets a SERVER span", () => {
  test("a failed model request: error.type and the status it answered", async () => {
    const t = clientTrace();
    const res = await chat(gw, { model: "nobody/x", messages: [{ role: "user", content: "hi" }] }, t.traceparent);
    expect(res.status).toBe(404);
    const [server] = await traceOf(t.traceId, 1);
    expect(server!.attributes).toMatchObject({ "http.response.status_code": 404, "error.type": "not_found", "http.route": "/v1/chat/completions" });
    expect(server!.status.code).toBe(0); // a client error is not the server's
  });

  test("health, models and unknown paths, continuing the client's trace", async () => {
    for (const [path, route, status] of [
      ["/health", "/health", 200],
      ["/v1/models", "/v1/models", 200],
      ["/no/such/path", "unmatched", 404],
    ] as const) {
      const t = clientTrace();
      const res = await fetch(gw.url + path, { headers: { traceparent: t.traceparent } });
      expect(res.status).toBe(status);
      const [server] = await traceOf(t.traceId, 1);
      expect(server!.parentSpanId).toBe(t.parent);
      expect(server!.attributes).toMatchObject({ "http.route": route, "http.response.status_code": status, "alloy.request_id": res.headers.get("x-request-id")! });
    }
  });
});

describe("capture_content = true", () => {
  test("prompt and answer as gen_ai.input.messages / gen_ai.output.messages; tool arguments and results", async () => {
    const t = clientTrace();
    const res = await chat(capturing, { model: "mock/m", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "secret words" }] }, t.traceparent);
    expect(res.status).toBe(200);
    const client = one(await traceOf(t.traceId, 2), (s) => s.kind === CLIENT);
    expect(JSON.parse(client.attributes["gen_ai.input.messages"] as string)).toEqual([
      { role: "system", parts: [{ type: "text", content: "be brief" }] },
      { role: "user", parts: [{ type: "text", content: "secret words" }] },
    ]);
    expect(JSON.parse(client.attributes["gen_ai.output.messages"] as string)).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "You said: secret words" }], finish_reason: "stop" },
    ]);

    const s = clientTrace();
    const streamed = await chat(capturing, { model: "mock/m", messages: [{ role: "user", content: "streamed words" }], stream: true }, s.traceparent);
    await streamed.text();
    const sc = one(await traceOf(s.traceId, 2), (x) => x.kind === CLIENT);
    expect(JSON.parse(sc.attributes["gen_ai.output.messages"] as string)[0].parts).toEqual([{ type: "text", content: "You said: streamed words" }]);

    const m = clientTrace();
    await (await chat(capturing, { model: "assistant", messages: [{ role: "user", content: 'call remote__add {"a":1,"b":2}' }] }, m.traceparent)).text();
    const tool = one(await traceOf(m.traceId, 4), (x) => x.name === "execute_tool remote__add");
    expect(JSON.parse(tool.attributes["gen_ai.tool.call.arguments"] as string)).toEqual({ a: 1, b: 2 });
    expect(tool.attributes["gen_ai.tool.call.result"] as string).toContain("3");
  });
});
