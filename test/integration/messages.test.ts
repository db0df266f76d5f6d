// /v1/messages with the official Anthropic SDK, over real sockets: translated to the mock and OpenAI-type providers,
// native to an Anthropic upstream (body and events unchanged), errors in Anthropic's shape on every path.
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";
import { startAnthropicMock, type AnthropicMock } from "../mocks/anthropic-upstream.ts";
import { startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

let gw: TestGateway;
let anthropic: AnthropicMock;
let openai: OpenAIMock;
const KEY = "gw-messages-key";

beforeAll(async () => {
  anthropic = startAnthropicMock({ apiKey: "sk-ant-upstream-key" });
  openai = startOpenAIMock();
  gw = await startGateway(`
[server]
api_keys = ["${KEY}"]
[governance]
max_retries = 0
[providers.mock]
type = "mock"
[providers.anthropic]
api_key = "sk-ant-upstream-key"
base_url = "${anthropic.url}"
[providers.openai]
api_key = "sk-openai-upstream"
base_url = "${openai.url}"
[models."claude-*"]
targets = ["mock/echo"]
[models.native]
targets = ["anthropic/claude-sonnet-4-5"]
[models.gpt]
targets = ["openai/gpt-4o-mini"]
`);
});
afterAll(async () => {
  await gw.stop(false);
  anthropic.stop();
  openai.stop();
});

const client = (o: { bearer?: boolean } = {}) =>
  new Anthropic(o.bearer ? { authToken: KEY, apiKey: null, baseURL: gw.url, maxRetries: 0 } : { apiKey: KEY, baseURL: gw.url, maxRetries: 0 });

describe("translated (mock provider behind a claude-* alias)", () => {
  test("messages.create answers with the mock's text, Anthropic-shaped, model as asked", async () => {
    const msg = await client().messages.create({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "Hello there" }] });
    expect(msg.type).toBe("message");
    expect(msg.role).toBe("assistant");
    expect(msg.model).toBe("claude-sonnet-4-5");
    expect(msg.content).toEqual([{ type: "text", text: "You said: Hello there", citations: null } as never].map((b) => expect.objectContaining({ type: "text", text: (b as { text: string }).text })));
    expect(msg.stop_reason).toBe("end_turn");
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
  });

  test("messages.stream gives the same text through every event, with non-zero input usage at message_start", async () => {
    const stream = client({ bearer: true }).messages.stream({ model: "claude-opus-4-1", max_tokens: 100, messages: [{ role: "user", content: "stream me" }] });
    const types: string[] = [];
    let startInput = 0;
    stream.on("streamEvent", (e) => {
      types.push(e.type);
      if (e.type === "message_start") startInput = e.message.usage.input_tokens;
    });
    const final = await stream.finalMessage();
    expect(await stream.finalText()).toBe("You said: stream me");
    expect(final.stop_reason).toBe("end_turn");
    expect(startInput).toBeGreaterThan(0);
    expect(types[0]).toBe("message_start");
    expect(types.at(-1)).toBe("message_stop");
    expect(types).toContain("content_block_start");
    expect(types).toContain("message_delta");
  });

  test("a tool round trip: tool_use out, tool_result back in", async () => {
    const tools = [{ name: "get_weather", description: "weather", input_schema: { type: "object" as const, properties: { city: { type: "string" } } } }];
    const first = await client().messages.create({ model: "claude-sonnet-4-5", max_tokens: 100, tools, tool_choice: { type: "any" }, messages: [{ role: "user", content: "weather?" }] });
    expect(first.stop_reason).toBe("tool_use");
    const use = first.content.find((b) => b.type === "tool_use")!;
    expect(use.type === "tool_use" && use.name).toBe("get_weather");
    const second = await client().messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      tools,
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: (use as { id: string }).id, content: "sunny" }] },
      ],
    });
    expect(second.content[0]!.type === "text" && second.content[0]!.text).toBe("Tool result: sunny");
  });

  test("countTokens estimates on translated targets", async () => {
    const r = await client().messages.countTokens({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "count these words please" }] });
    expect(r.input_tokens).toBeGreaterThan(0);
  });
});

describe("native (Anthropic upstream)", () => {
  test("the body goes unchanged except model, with the client's version and betas; the answer comes back as sent", async () => {
    const before = anthropic.calls.length;
    const res = await fetch(`${gw.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "context-management-2025-06-27" },
      body: JSON.stringify({ model: "native", max_tokens: 50, messages: [{ role: "user", content: "hi" }], context_management: { edits: [] }, output_config: { effort: "low" } }),
    });
    const body = (await res.json()) as { type: string; content: unknown[] };
    expect({ status: res.status, body }).toMatchObject({ status: 200 });
    expect(body.type).toBe("message");
    const call = anthropic.calls[before]!;
    const sent = call.body as Record<string, unknown>;
    expect(sent.model).toBe("claude-sonnet-4-5");
    expect(sent.context_management).toEqual({ edits: [] });
    expect(sent.output_config).toEqual({ effort: "low" });
    expect(call.headers["anthropic-beta"]).toBe("context-management-2025-06-27");
    expect(call.headers["x-api-key"]).toBe("sk-ant-upstream-key");
  });

  test("a native stream relays every event; the SDK assembles it", async () => {
    const stream = client().messages.stream({ model: "native", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    const final = await stream.finalMessage();
    expect(final.type).toBe("message");
    expect(final.content.length).toBeGreaterThan(0);
    await logsSettled();
  });
});

describe("translated to an OpenAI-type upstream", () => {
  test("text answer through Chat Completions", async () => {
    const msg = await client().messages.create({ model: "gpt", max_tokens: 30, system: "be brief", messages: [{ role: "user", content: "hi" }] });
    expect(msg.type).toBe("message");
    expect(msg.content[0]!.type).toBe("text");
    const sent = openai.calls.at(-1)!.body as { messages: Array<{ role: string }> };
    expect(sent.messages[0]!.role).toBe("system");
  });
});

describe("errors in Anthropic's shape", () => {
  test("missing key is a 401 authentication_error", async () => {
    const res = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { type: string; error: { type: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("authentication_error");
  });

  test("bad body is a 400 invalid_request_error naming the field, with request_id", async () => {
    const res = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": KEY }, body: JSON.stringify({ max_tokens: 5, messages: [] }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string }; request_id: string };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toContain("model");
    expect(body.request_id).toBe(res.headers.get("x-request-id")!);
  });

  test("unknown model is a 404 not_found_error through the SDK", async () => {
    const err = await client().messages.create({ model: "nope-model", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
  });

  test("HEAD / answers 200", async () => {
    const res = await fetch(gw.url, { method: "HEAD" });
    expect(res.status).toBe(200);
  });
});
