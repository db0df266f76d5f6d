// The Bedrock provider end to end: the official `openai` client → Alloy (own SigV4, fetch, event-stream decoding; the
// AWS SDK only for credentials and endpoint) → a mock Bedrock runtime endpoint that recomputes every signature with
// the SDK's SignatureV4, over real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { loadConfig } from "../helpers/config.ts";
import { logsSettled, startGateway, writeConfig, type TestGateway } from "../helpers/gateway.ts";
import {
  bedrockError,
  converseBody,
  defaultScript,
  eventStreamResponse,
  jsonResponse,
  startBedrockMock,
  textFrames,
  toolFrames,
  type BedrockMock,
} from "../mocks/bedrock-upstream.ts";

const REGION = "us-west-2";
const ACCESS_KEY_ID = "AKIAALLOYTEST0000001";
const SECRET = "alloyTestSecret/DoNotLeak+9f8e7d6c5b4a3210zyxw";
const SESSION_TOKEN = "alloyTestSessionToken/DoNotLeakEither==";
const PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const HAIKU = "anthropic.claude-3-haiku-20240307-v1:0";
const MAX_RETRIES = 2;

let upstream: BedrockMock;
let gw: TestGateway;
let client: OpenAI;
/** Every error body the gateway sent, checked for secrets at the end. */
const errorBodies: string[] = [];

async function post(body: Record<string, unknown>): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400 || text.includes('"error"')) errorBodies.push(text);
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** SSE `data:` payloads of a stream body, in order. */
function sseEvents(text: string): string[] {
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ""));
}

beforeAll(async () => {
  upstream = startBedrockMock({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, region: REGION });
  gw = await startGateway(`
[server]
timeout_secs = 10
[providers.bedrock]
region = "${REGION}"
endpoint = "${upstream.url}"
access_key_id = "${ACCESS_KEY_ID}"
secret_access_key = "${SECRET}"
session_token = "${SESSION_TOKEN}"
timeout_secs = 5
models = ["${HAIKU}"]
[providers.bedrock_wrongkey]
type = "bedrock"
region = "${REGION}"
endpoint = "${upstream.url}"
access_key_id = "AKIANOTTHEKEY0000000"
secret_access_key = "${SECRET}"
[providers.bedrock_slow]
type = "bedrock"
region = "${REGION}"
endpoint = "${upstream.url}"
access_key_id = "${ACCESS_KEY_ID}"
secret_access_key = "${SECRET}"
timeout_secs = 0.1
[providers.bedrock_down]
type = "bedrock"
region = "${REGION}"
endpoint = "http://127.0.0.1:9"
access_key_id = "${ACCESS_KEY_ID}"
secret_access_key = "${SECRET}"
[governance]
max_retries = ${MAX_RETRIES}
backoff_base_ms = 1
backoff_max_ms = 2
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "client-key-must-not-leak", maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop(false);
  upstream.stop();
});

describe("Bedrock provider through the official client", () => {
  test("plain completion: text, usage, client's model name; SigV4-signed call to /model/{id}/converse", async () => {
    upstream.script = defaultScript;
    const before = upstream.calls.length;
    const res = await client.chat.completions.create({
      model: `bedrock/${HAIKU}`,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hello" },
      ],
      max_tokens: 50,
      temperature: 0.2,
      stop: ["END"],
    });
    expect(res.choices[0]!.message.content).toBe("Hello from Bedrock");
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.model).toBe(`bedrock/${HAIKU}`);
    expect(res.id).toStartWith("chatcmpl-");
    expect(res.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    const call = upstream.calls[before]!;
    expect(call.operation).toBe("converse");
    expect(call.modelId).toBe(HAIKU);
    expect(call.body).toEqual({
      messages: [{ role: "user", content: [{ text: "hello" }] }],
      system: [{ text: "Be brief." }],
      inferenceConfig: { maxTokens: 50, temperature: 0.2, stopSequences: ["END"] },
    });
    expect(call.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/\\d{8}/${REGION}/bedrock/aws4_request, ?SignedHeaders=\\S+, ?Signature=[0-9a-f]{64}$`),
    );
    expect(call.headers["x-amz-security-token"]).toBe(SESSION_TOKEN);
    expect(JSON.stringify(call.headers)).not.toContain("client-key-must-not-leak");
    expect(JSON.stringify(call.headers)).not.toContain(SECRET);
  });

  test("bare Bedrock ids, inference-profile ids and ARNs route to bedrock and arrive as modelId", async () => {
    upstream.script = defaultScript;
    const arn = `arn:aws:bedrock:${REGION}:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0`;
    for (const model of [HAIKU, "us.anthropic.claude-3-5-sonnet-20240620-v1:0", arn]) {
      const before = upstream.calls.length;
      const res = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }] });
      expect(res.choices[0]!.message.content).toBe("Hello from Bedrock");
      expect(upstream.calls[before]!.modelId).toBe(model);
    }
  });

  test("streamed text with the usage chunk when asked", async () => {
    upstream.script = () => eventStreamResponse(textFrames(["Hel", "lo", "!"], "end_turn", { inputTokens: 9, outputTokens: 3 }));
    const stream = await client.chat.completions.create({
      model: `bedrock/${HAIKU}`,
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: any;
    let finish: string | null = null;
    let role: string | undefined;
    for await (const chunk of stream) {
      role ??= chunk.choices[0]?.delta?.role;
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(role).toBe("assistant");
    expect(text).toBe("Hello!");
    expect(finish).toBe("stop");
    expect(usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
    expect(upstream.calls[upstream.calls.length - 1]!.operation).toBe("converse-stream");
  });

  test("without include_usage the client gets no usage-only chunk, and the stream ends with [DONE]", async () => {
    upstream.script = () => eventStreamResponse(textFrames(["a", "b"]));
    const { text } = await post({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "hi" }], stream: true });
    const events = sseEvents(text);
    expect(events[events.length - 1]).toBe("[DONE]");
    for (const e of events.slice(0, -1)) expect(JSON.parse(e).choices.length).toBe(1);
  });

  test("tools: toolConfig upstream, tool_calls back with Bedrock's ids", async () => {
    upstream.script = defaultScript;
    const before = upstream.calls.length;
    const res = await client.chat.completions.create({
      model: `bedrock/${HAIKU}`,
      messages: [{ role: "user", content: "What is the most popular song on WZPZ?" }],
      tools: [{ type: "function", function: { name: "top_song", description: "Most played song", parameters: { type: "object", properties: { sign: { type: "string" } } } } }],
      tool_choice: { type: "function", function: { name: "top_song" } },
    });
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.tool_calls).toEqual([{ id: "tooluse_mock1", type: "function", function: { name: "top_song", arguments: '{"sign":"WZPZ"}' } }]);
    expect(upstream.calls[before]!.body.toolConfig).toEqual({
      tools: [{ toolSpec: { name: "top_song", description: "Most played song", inputSchema: { json: { type: "object", properties: { sign: { type: "string" } } } } } }],
      toolChoice: { tool: { name: "top_song" } },
    });
  });

  test("streamed tool calls after text are assembled by the client (indexes 0 and 1)", async () => {
    upstream.script = () =>
      eventStreamResponse(
        toolFrames("Checking.", [
          { id: "tooluse_a", name: "top_song", input: ['{"sign"', ': "WZPZ"}'] },
          { id: "tooluse_b", name: "top_song", input: ['{"sign": "WKRP"}'] },
        ]),
      );
    const runner = client.chat.completions.stream({
      model: `bedrock/${HAIKU}`,
      messages: [{ role: "user", content: "songs?" }],
      tools: [{ type: "function", function: { name: "top_song", parameters: { type: "object", properties: { sign: { type: "string" } } } } }],
    });
    const final = await runner.finalChatCompletion();
    const msg = final.choices[0]!.message;
    expect(msg.content).toBe("Checking.");
    expect(msg.tool_calls!.map((c: any) => [c.id, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ["tooluse_a", "top_song", { sign: "WZPZ" }],
      ["tooluse_b", "top_song", { sign: "WKRP" }],
    ]);
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
  });

  test("tool results go back as toolResult blocks grouped in one user turn (the mock rejects anything else)", async () => {
    upstream.script = (c) => {
      const last = c.body.messages[c.body.messages.length - 1];
      const results = last.content.filter((b: any) => b.toolResult).map((b: any) => b.toolResult.content[0].text);
      return jsonResponse(converseBody([{ text: `results: ${results.join(", ")}` }]));
    };
    const before = upstream.rejected.length;
    const res = await client.chat.completions.create({
      model: `bedrock/${HAIKU}`,
      tools: [{ type: "function", function: { name: "top_song", parameters: { type: "object", properties: {} } } }],
      messages: [
        { role: "user", content: "songs on WZPZ and WKRP?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "tooluse_a", type: "function", function: { name: "top_song", arguments: '{"sign":"WZPZ"}' } },
            { id: "tooluse_b", type: "function", function: { name: "top_song", arguments: '{"sign":"WKRP"}' } },
          ],
        },
        { role: "tool", tool_call_id: "tooluse_a", content: "Elemental Hotel" },
        { role: "tool", tool_call_id: "tooluse_b", content: "Never Gonna" },
      ],
    });
    expect(res.choices[0]!.message.content).toBe("results: Elemental Hotel, Never Gonna");
    expect(upstream.rejected.length).toBe(before);
  });

  test("images: data URLs arrive as image blocks; http URLs are a 400 before any upstream call", async () => {
    upstream.script = defaultScript;
    const before = upstream.calls.length;
    await client.chat.completions.create({
      model: `bedrock/${HAIKU}`,
      messages: [{ role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1PX}` } }] }],
    });
    expect(upstream.calls[before]!.body.messages[0].content[1]).toEqual({ image: { format: "png", source: { bytes: PNG_1PX } } });
    const calls = upstream.calls.length;
    const r = await post({
      model: `bedrock/${HAIKU}`,
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }],
    });
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe("invalid_request_error");
    expect(r.json.error.param).toBe("messages[0].content[0].image_url.url");
    expect(r.json.error.message).toContain("data URL");
    expect(upstream.calls.length).toBe(calls);
  });

  test("stop reasons: max_tokens → length, guardrail_intervened → content_filter, unknown → stop (JSON and stream)", async () => {
    const cases: Array<[string, string]> = [
      ["max_tokens", "length"],
      ["model_context_window_exceeded", "length"],
      ["guardrail_intervened", "content_filter"],
      ["content_filtered", "content_filter"],
      ["stop_sequence", "stop"],
      ["malformed_tool_use", "stop"],
    ];
    for (const [stopReason, finish] of cases) {
      upstream.script = (c) =>
        c.operation === "converse" ? jsonResponse(converseBody([{ text: "cut" }], stopReason)) : eventStreamResponse(textFrames(["cut"], stopReason));
      const res = await client.chat.completions.create({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }] });
      expect([stopReason, res.choices[0]!.finish_reason]).toEqual([stopReason, finish]);
      const { text } = await post({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }], stream: true });
      const fin = sseEvents(text)
        .filter((e) => e !== "[DONE]")
        .map((e) => JSON.parse(e).choices[0]?.finish_reason)
        .find(Boolean);
      expect([stopReason, fin]).toEqual([stopReason, finish]);
    }
  });

  test("usage: cache reads and writes count into prompt_tokens; cached_tokens = reads", async () => {
    const usage = { inputTokens: 10, outputTokens: 4, cacheReadInputTokens: 800, cacheWriteInputTokens: 200 };
    upstream.script = (c) =>
      c.operation === "converse" ? jsonResponse(converseBody([{ text: "ok" }], "end_turn", usage)) : eventStreamResponse(textFrames(["ok"], "end_turn", usage));
    const expected = { prompt_tokens: 1010, completion_tokens: 4, total_tokens: 1014, prompt_tokens_details: { cached_tokens: 800 } };
    const res = await client.chat.completions.create({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }] });
    expect(res.usage).toMatchObject(expected);
    const { text } = await post({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }], stream: true, stream_options: { include_usage: true } });
    const last = JSON.parse(sseEvents(text).slice(-2)[0]!);
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject(expected);
  });
});

describe("Bedrock errors", () => {
  const table: Array<[type: string, upstreamStatus: number, status: number, retryable: boolean]> = [
    ["ValidationException", 400, 400, false],
    ["AccessDeniedException", 403, 403, false],
    ["ResourceNotFoundException", 404, 404, false],
    ["ModelTimeoutException", 408, 408, true],
    ["ThrottlingException", 429, 429, true],
    ["ModelNotReadyException", 429, 429, true],
    ["ServiceQuotaExceededException", 429, 429, true],
    ["ModelErrorException", 424, 424, false],
    ["InternalServerException", 500, 502, true],
    ["ServiceUnavailableException", 503, 503, true],
  ];
  for (const [type, upstreamStatus, status, retryable] of table) {
    test(`${type} → ${status}, ${retryable ? `retried ${MAX_RETRIES} times` : "not retried"}, message kept`, async () => {
      upstream.script = () => bedrockError(upstreamStatus, type, `${type} says no`);
      const before = upstream.calls.length;
      const r = await post({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }] });
      expect(r.status).toBe(status);
      expect(r.json.error.message).toBe(`${type} says no`);
      expect(upstream.calls.length - before).toBe(retryable ? MAX_RETRIES + 1 : 1);
    });
  }

  test("a body the service rejects (temperature out of the model's range) comes back as its 400 ValidationException", async () => {
    upstream.script = defaultScript;
    const before = upstream.rejected.length;
    const r = await post({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }], temperature: 1.5 });
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe("invalid_request_error");
    expect(r.json.error.message).toBe("temperature: range: 0..1");
    expect(upstream.rejected.length - before).toBe(1);
  });

  test("an unknown access key is the service's 403, not retried", async () => {
    const before = upstream.rejected.length;
    const r = await post({ model: `bedrock_wrongkey/${HAIKU}`, messages: [{ role: "user", content: "x" }] });
    expect(r.status).toBe(403);
    expect(r.json.error.message).toBe("The security token included in the request is invalid.");
    expect(upstream.rejected.slice(before).map((x) => x.type)).toEqual(["UnrecognizedClientException"]);
  });

  test("a throttlingException frame before any content is retried like a throttled call", async () => {
    upstream.script = () => eventStreamResponse([{ exception: "throttlingException", message: "Too many tokens, please wait before trying again." }]);
    const before = upstream.calls.length;
    const r = await post({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }], stream: true });
    expect(r.status).toBe(429);
    expect(r.json.error.type).toBe("rate_limit_exceeded");
    expect(r.json.error.message).toBe("Too many tokens, please wait before trying again.");
    expect(upstream.calls.length - before).toBe(MAX_RETRIES + 1);
  });

  test("exception frames mid-stream end the stream with one error event and no [DONE], never retried", async () => {
    const cases: Array<[string, string]> = [
      ["throttlingException", "rate_limit_exceeded"],
      ["modelStreamErrorException", "upstream_error"],
      ["internalServerException", "upstream_error"],
      ["validationException", "invalid_request_error"],
      ["serviceUnavailableException", "service_unavailable"],
    ];
    for (const [exception, type] of cases) {
      upstream.script = () => eventStreamResponse([...textFrames(["partial", " answer"]).slice(0, 3), { exception, message: `${exception} mid-stream` }]);
      const before = upstream.calls.length;
      const r = await post({ model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }], stream: true });
      expect(r.status).toBe(200);
      const events = sseEvents(r.text);
      expect(events).not.toContain("[DONE]");
      const chunks = events.map((e) => JSON.parse(e));
      expect(chunks.map((c) => c.choices?.[0]?.delta?.content).filter(Boolean).join("")).toBe("partial answer");
      const err = chunks[chunks.length - 1].error;
      expect([exception, err.message, err.type]).toEqual([exception, `${exception} mid-stream`, type]);
      expect(upstream.calls.length - before).toBe(1);
    }
  });

  test("a connection failure is a retryable network error (502 upstream_error)", async () => {
    const r = await post({ model: `bedrock_down/${HAIKU}`, messages: [{ role: "user", content: "x" }] });
    expect(r.status).toBe(502);
    expect(r.json.error.type).toBe("upstream_error");
    expect(r.json.error.message).toContain("connection failed");
  });

  test("the per-attempt timeout cancels the SDK call upstream and answers 504", async () => {
    upstream.script = async (_c, signal) => {
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      return new Response("late");
    };
    const before = upstream.calls.length;
    const aborted = upstream.waitForAbort(before + 1);
    const r = await post({ model: `bedrock_slow/${HAIKU}`, messages: [{ role: "user", content: "x" }] });
    expect(r.status).toBe(504);
    expect(r.json.error.type).toBe("upstream_timeout");
    expect((await aborted).aborted).toBe(true);
    expect(upstream.calls.length - before).toBe(MAX_RETRIES + 1);
  });

  test("a client abort mid-stream reaches the upstream", async () => {
    const hanging = upstream.calls.length + 1;
    upstream.script = (c, signal) => eventStreamResponse(textFrames(["a", "b", "c"]), c.n === hanging ? { hangAfter: 2, signal } : {});
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: `bedrock/${HAIKU}`, messages: [{ role: "user", content: "x" }], stream: true },
      { signal: ac.signal },
    );
    const aborted = upstream.waitForAbort(hanging);
    try {
      for await (const chunk of stream) if (chunk.choices[0]?.delta?.content === "a") ac.abort();
    } catch {
      // the client's own abort
    }
    expect((await aborted).n).toBe(hanging);
  });

  test("no AWS secret in any error body or log line", async () => {
    await logsSettled();
    expect(errorBodies.length).toBeGreaterThan(10);
    for (const text of [...errorBodies, ...gw.logs]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(SESSION_TOKEN);
    }
  });
});

describe("Bedrock configuration", () => {
  test("the region comes from config, else AWS_REGION / AWS_DEFAULT_REGION; without one the provider is inactive with a reason", async () => {
    const file = writeConfig(`[providers.bedrock]\nprofile = "dev"\n`);
    const none = await loadConfig({ config: file }, {});
    expect(none.providers.bedrock).toBeUndefined();
    expect(none.inactive.bedrock).toContain("no AWS region");
    const fromDefault = await loadConfig({ config: file }, { AWS_DEFAULT_REGION: "eu-central-1" });
    expect(fromDefault.providers.bedrock).toMatchObject({ region: "eu-central-1", profile: "dev" });
    const implicit = await loadConfig({ config: writeConfig("") }, { AWS_REGION: "eu-west-1", AWS_PROFILE: "prod" });
    expect(implicit.providers.bedrock).toMatchObject({ type: "bedrock", region: "eu-west-1", profile: "prod" });
  });

  test("half a static key pair is refused; unknown keys are config errors", async () => {
    const half = await loadConfig({ config: writeConfig(`[providers.bedrock]\nregion = "us-east-1"\naccess_key_id = "AKIAX"\n`) }, {});
    expect(half.inactive.bedrock).toContain("must be set together");
    await expect(loadConfig({ config: writeConfig(`[providers.bedrock]\nregion = "us-east-1"\nsecret_key = "x"\n`) }, {})).rejects.toThrow(
      "providers.bedrock.secret_key: unknown key",
    );
  });
});
