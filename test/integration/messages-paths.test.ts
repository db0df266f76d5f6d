// /v1/messages on every path: Claude on Bedrock natively (InvokeModel, its stream, CountTokens), other Bedrock models
// through Converse, unsigned thinking stripped before native targets, alias mcp_servers on the translated path, Claude
// Code's recorded request on each provider path, and the key's rpm and the access line on this route.
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";
import { startAnthropicMock, type AnthropicMock } from "../mocks/anthropic-upstream.ts";
import { startBedrockMock, type BedrockMock } from "../mocks/bedrock-upstream.ts";
import { startStreamableMcp } from "../mocks/mcp/http-server.ts";
import type { MockHttpMcp } from "../mocks/mcp/sse-server.ts";
import { toolModel } from "../mocks/mcp/tool-model.ts";
import { startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

const REGION = "eu-west-1";
const ACCESS_KEY_ID = "AKIAALLOYMSGTEST0001";
const SECRET = "messagesTestSecret/DoNotLeak+0123456789abcdef";
const CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const KEY = "gw-paths-key";
const LIMITED = "gw-paths-limited";
const FIXTURE = JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "claude-code-request.json"), "utf8"));

let gw: TestGateway;
let anthropic: AnthropicMock;
let openai: OpenAIMock;
let bedrock: BedrockMock;
let mcp: MockHttpMcp;

beforeAll(async () => {
  anthropic = startAnthropicMock({ apiKey: "sk-ant-paths" });
  openai = startOpenAIMock(toolModel);
  bedrock = startBedrockMock({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, region: REGION });
  mcp = await startStreamableMcp("remote");
  gw = await startGateway(`
[server]
timeout_secs = 10
api_keys = ["${KEY}"]
[server.keys.limited]
key = "${LIMITED}"
rpm = 2
[governance]
max_retries = 0
[providers.mock]
type = "mock"
[providers.anthropic]
api_key = "sk-ant-paths"
base_url = "${anthropic.url}"
[providers.openai]
api_key = "sk-openai-paths"
base_url = "${openai.url}"
[providers.bedrock]
region = "${REGION}"
endpoint = "${bedrock.url}"
access_key_id = "${ACCESS_KEY_ID}"
secret_access_key = "${SECRET}"
[models.bclaude]
targets = ["bedrock/${CLAUDE}"]
[models.bnova]
targets = ["bedrock/amazon.nova-lite-v1:0"]
[models.native]
targets = ["anthropic/claude-sonnet-4-5"]
[models.gpt]
targets = ["openai/gpt-4o-mini"]
[models.echo]
targets = ["mock/echo"]
[models.tooled]
targets = ["openai/gpt-4o"]
mcp_servers = ["remote"]
[models.tooled-native]
targets = ["anthropic/claude-sonnet-4-5"]
mcp_servers = ["remote"]
[mcp]
max_iterations = 3
[mcp.servers.remote]
transport = "streamable-http"
url = "${mcp.url}"
`);
  await gw.mcp!.whenConnected();
});
afterAll(async () => {
  await gw.stop(false);
  anthropic.stop();
  openai.stop();
  bedrock.stop();
  await mcp.close();
});

const client = (key = KEY) => new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 });
const lines = () => gw.logs.map((l) => JSON.parse(l) as Record<string, any>);
const accessLine = async (id: string | null) => {
  await logsSettled();
  return lines().find((l) => l.msg === "request" && l.requestId === id);
};

describe("Claude on Bedrock, natively through InvokeModel", () => {
  test("JSON: the body less model and stream, with anthropic_version and the client's betas as a list; the answer as sent", async () => {
    const before = bedrock.calls.length;
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "context-management-2025-06-27, interleaved-thinking-2025-05-14" },
      body: JSON.stringify({ model: "bclaude", max_tokens: 50, stream: false, messages: [{ role: "user", content: "hi" }], context_management: { edits: [] } }),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    const call = bedrock.calls[before]!;
    expect(call.operation).toBe("invoke");
    expect(call.modelId).toBe(CLAUDE);
    expect(call.body).toEqual({
      anthropic_version: "bedrock-2023-05-31",
      anthropic_beta: ["context-management-2025-06-27", "interleaved-thinking-2025-05-14"],
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
      context_management: { edits: [] },
    });
    expect(JSON.parse(text)).toMatchObject({ id: "msg_bdrk_mock1", type: "message", content: [{ type: "text", text: "Hello from Claude on Bedrock" }] });
    expect(await accessLine(res.headers.get("x-request-id"))).toMatchObject({ route: "/v1/messages", provider: "bedrock", promptTokens: 7, completionTokens: 6 });
  });

  test("stream: each chunk relayed as an Anthropic event; the SDK assembles it, tool_use included", async () => {
    const before = bedrock.calls.length;
    const tools = [{ name: "get_weather", description: "weather", input_schema: { type: "object" as const, properties: { city: { type: "string" } } } }];
    const stream = client().messages.stream({ model: "bclaude", max_tokens: 50, tools, tool_choice: { type: "tool", name: "get_weather" }, messages: [{ role: "user", content: "weather?" }] });
    const types: string[] = [];
    stream.on("streamEvent", (e) => types.push(e.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([expect.objectContaining({ type: "tool_use", name: "get_weather", input: { city: "Paris" } })]);
    expect(final.stop_reason).toBe("tool_use");
    expect(types[0]).toBe("message_start");
    expect(types.at(-1)).toBe("message_stop");
    const call = bedrock.calls[before]!;
    expect(call.operation).toBe("invoke-with-response-stream");
    expect("stream" in call.body || "model" in call.body).toBe(false);
  });

  test("count_tokens: Bedrock's CountTokens on the foundation model, the InvokeModel body base64 inside", async () => {
    const before = bedrock.calls.length;
    const r = await client().messages.countTokens({ model: "bclaude", messages: [{ role: "user", content: "count these words please" }] });
    const call = bedrock.calls[before]!;
    expect(call.operation).toBe("count-tokens");
    expect(call.modelId).toBe("anthropic.claude-sonnet-4-5-20250929-v1:0");
    expect(call.countBody).toMatchObject({ anthropic_version: "bedrock-2023-05-31", max_tokens: 1, messages: [{ role: "user", content: "count these words please" }] });
    expect(r.input_tokens).toBe(Math.ceil(JSON.stringify(call.countBody).length / 4));
  });

  test("a Bedrock error reaches the client in Anthropic's shape", async () => {
    bedrock.script = (call) => new Response(JSON.stringify({ message: "Too many tokens" }), { status: 429, headers: { "x-amzn-errortype": "ThrottlingException" } });
    try {
      const err = await client().messages.create({ model: "bclaude", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).catch((e) => e);
      expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    } finally {
      bedrock.script = (await import("../mocks/bedrock-upstream.ts")).defaultScript;
    }
  });

  test("other Bedrock models keep Converse", async () => {
    const before = bedrock.calls.length;
    const msg = await client().messages.create({ model: "bnova", max_tokens: 20, messages: [{ role: "user", content: "hi" }] });
    expect(bedrock.calls[before]!.operation).toBe("converse");
    expect(msg.content[0]).toMatchObject({ type: "text", text: "Hello from Bedrock" });
  });
});

describe("thinking without a signature", () => {
  const history = (signature: string) => [
    { role: "user", content: "think" },
    { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature }, { type: "text", text: "done" }] },
    { role: "user", content: "again" },
  ];
  for (const model of ["native", "bclaude"])
    test(`is stripped from assistant history before a native target (${model}); a signed one stays`, async () => {
      const sent = () => (model === "native" ? anthropic.calls.at(-1)!.body : bedrock.calls.at(-1)!.body);
      await client().messages.create({ model, max_tokens: 20, messages: history("") as never });
      expect(sent().messages[1].content).toEqual([{ type: "text", text: "done" }]);
      await client().messages.create({ model, max_tokens: 20, messages: history("sig-abc") as never });
      expect(sent().messages[1].content).toEqual([{ type: "thinking", thinking: "hmm", signature: "sig-abc" }, { type: "text", text: "done" }]);
    });
});

describe("alias mcp_servers", () => {
  test("translated: the tool loop runs the MCP tool and the model answers with its result (JSON)", async () => {
    const msg = await client().messages.create({ model: "tooled", max_tokens: 50, messages: [{ role: "user", content: 'call remote__echo {"text":"ping"}' }] });
    expect(msg.content[0]).toMatchObject({ type: "text", text: "Tool said: echo(remote): ping" });
    expect(msg.stop_reason).toBe("end_turn");
    const sent = openai.calls.at(-1)!.body as { tools: Array<{ function: { name: string } }> };
    expect(sent.tools.map((t) => t.function.name)).toContain("remote__echo");
  });

  test("translated and streamed: one Anthropic stream over both rounds", async () => {
    const stream = client().messages.stream({ model: "tooled", max_tokens: 50, messages: [{ role: "user", content: 'call remote__add {"a":2,"b":3}' }] });
    expect(await stream.finalText()).toBe("Tool said: 5");
    expect((await stream.finalMessage()).stop_reason).toBe("end_turn");
  });

  test("native targets get the client's tools only", async () => {
    const before = anthropic.calls.length;
    await client().messages.create({ model: "tooled-native", max_tokens: 20, messages: [{ role: "user", content: "hi" }] });
    expect(anthropic.calls.length).toBe(before + 1);
    expect(anthropic.calls[before]!.body.tools).toBeUndefined();
  });
});

describe("Claude Code's recorded request on every path", () => {
  const { host: _h, "content-length": _l, connection: _c, "accept-encoding": _e, ...headers } = FIXTURE.request.headers;
  const post = (model: string) =>
    fetch(`${gw.url}${FIXTURE.request.path}`, { method: "POST", headers: { ...headers, "x-api-key": KEY }, body: JSON.stringify({ ...FIXTURE.body, model }) });
  /** The SSE answer's events, in order, with their data parsed. */
  const events = (text: string) =>
    text
      .split("\n\n")
      .filter(Boolean)
      .map((f) => ({ event: /^event: (.*)$/m.exec(f)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(f)![1]!) }));

  for (const [model, path] of [["echo", "mock (translated)"], ["native", "Anthropic (native)"], ["gpt", "OpenAI (translated)"], ["bclaude", "Bedrock (native InvokeModel)"]] as const)
    test(`${path}: accept: application/json with stream: true is SSE, a whole Anthropic stream`, async () => {
      const res = await post(model);
      const text = await res.text();
      expect({ status: res.status, type: res.headers.get("content-type") }).toEqual({ status: 200, type: expect.stringContaining("text/event-stream") });
      const ev = events(text);
      expect(ev[0]!.event).toBe("message_start");
      expect(ev.at(-1)!.event).toBe("message_stop");
      expect(ev.some((e) => e.event === "content_block_delta")).toBe(true);
      for (const e of ev) expect(e.data.type).toBe(e.event);
      expect(ev[0]!.data.message.usage.input_tokens).toBeGreaterThan(0);
    });

  test("native to Anthropic: the body unchanged except model, the client's version and betas", async () => {
    await (await post("native")).text();
    const call = anthropic.calls.at(-1)!;
    expect(call.rejected).toBeUndefined();
    expect(call.body).toEqual({ ...FIXTURE.body, model: "claude-sonnet-4-5" });
    expect(call.headers["anthropic-beta"]).toBe(FIXTURE.request.headers["anthropic-beta"]);
    expect(call.headers["anthropic-version"]).toBe("2023-06-01");
  });

  test("native to Bedrock: the same body less model and stream, plus anthropic_version and the betas as a list", async () => {
    await (await post("bclaude")).text();
    const call = bedrock.calls.at(-1)!;
    const { model: _m, stream: _s, ...rest } = FIXTURE.body;
    expect(call.body).toEqual({ anthropic_version: "bedrock-2023-05-31", anthropic_beta: FIXTURE.request.headers["anthropic-beta"].split(","), ...rest });
  });
});

describe("keys, limits and the access line on /v1/messages", () => {
  test("a key's rpm applies (429 rate_limit_error in Anthropic's shape); access lines say route /v1/messages and the key", async () => {
    const ask = () =>
      fetch(`${gw.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": LIMITED },
        body: JSON.stringify({ model: "echo", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
      });
    const a = await ask();
    const b = await ask();
    const c = await ask();
    expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
    expect(c.headers.get("retry-after")).toMatch(/^\d+$/);
    const body = (await c.json()) as { type: string; error: { type: string } };
    expect(body).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(await accessLine(a.headers.get("x-request-id"))).toMatchObject({ route: "/v1/messages", status: 200, key: "limited", provider: "mock" });
    expect(await accessLine(c.headers.get("x-request-id"))).toMatchObject({ route: "/v1/messages", status: 429, key: "limited" });
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    expect(metrics).toMatch(/alloy_requests_total\{[^}]*route="\/v1\/messages"[^}]*\} [1-9]/);
  });
});
