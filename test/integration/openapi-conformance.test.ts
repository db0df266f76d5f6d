// Every answer Alloy sends, checked against OpenAI's published OpenAPI document (test/openapi/openapi.json): chat
// completions, every stream chunk (usage chunk included), /v1/models and error bodies, on each provider path (the
// built-in mock, OpenAI passthrough, Anthropic and Bedrock translated), over real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { componentNames, validate } from "../helpers/openapi.ts";
import {
  anthropicError,
  defaultScript as anthropicDefault,
  eventsFor,
  frame,
  jsonResponse as anthropicJson,
  message,
  sseResponse as anthropicSse,
  startAnthropicMock,
  type AnthropicMock,
} from "../mocks/anthropic-upstream.ts";
import {
  bedrockError,
  converseBody,
  defaultScript as bedrockDefault,
  eventStreamResponse,
  jsonResponse as bedrockJson,
  startBedrockMock,
  toolFrames,
  type BedrockMock,
} from "../mocks/bedrock-upstream.ts";
import { defaultScript as openaiDefault, openaiError, startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

const KEY = "sk-alloy-conformance-key";
const REGION = "us-west-2";
const ACCESS_KEY_ID = "AKIAALLOYTEST0000001";
const HAIKU = "anthropic.claude-3-haiku-20240307-v1:0";

let openai: OpenAIMock;
let anthropic: AnthropicMock;
let bedrock: BedrockMock;
let gw: TestGateway;

beforeAll(async () => {
  openai = startOpenAIMock();
  anthropic = startAnthropicMock();
  bedrock = startBedrockMock({ accessKeyId: ACCESS_KEY_ID, region: REGION });
  gw = await startGateway(`
[server]
timeout_secs = 10
api_keys = ["${KEY}"]
[providers.mock]
type = "mock"
models = ["echo-1"]
[providers.mock_down]
type = "mock"
fail_rate = 1
[providers.openai]
api_key = "sk-upstream-secret"
base_url = "${openai.url}"
models = ["gpt-4o-mini"]
[providers.anthropic]
api_key = "sk-ant-upstream-secret"
base_url = "${anthropic.url}"
models = ["claude-sonnet-4-5"]
[providers.bedrock]
region = "${REGION}"
endpoint = "${bedrock.url}"
access_key_id = "${ACCESS_KEY_ID}"
secret_access_key = "alloyTestSecret/DoNotLeak"
models = ["${HAIKU}"]
[governance]
max_retries = 0
`);
});
afterAll(async () => {
  await gw.stop(false);
  openai.stop();
  anthropic.stop();
  bedrock.stop();
});

const AUTH = { authorization: `Bearer ${KEY}` };

async function post(body: unknown, headers: Record<string, string> = AUTH): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** The JSON payloads of an event stream's `data:` lines, [DONE] left out (and asserted as the last event). */
function sseData(text: string): { events: any[]; done: boolean } {
  const data = text
    .split("\n\n")
    .filter(Boolean)
    .map((e) => {
      expect(e.startsWith("data: ")).toBe(true);
      return e.slice("data: ".length);
    });
  const done = data[data.length - 1] === "[DONE]";
  return { events: (done ? data.slice(0, -1) : data).map((d) => JSON.parse(d)), done };
}

/** Asserts the value conforms; the violations are the failure message. */
function expectConforms(component: string, value: unknown): void {
  expect({ component, violations: validate(component, value) }).toEqual({ component, violations: [] });
}

const WEATHER_TOOL = {
  type: "function",
  function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } } } },
};
const textRequest = (model: string) => ({ model, messages: [{ role: "user", content: "Say hello" }], max_tokens: 50 });
const toolRequest = (model: string) => ({
  ...textRequest(model),
  tools: [WEATHER_TOOL],
  tool_choice: { type: "function", function: { name: "get_weather" } },
});

describe("the validator is real", () => {
  test("a conforming answer passes, and each deliberate break of it fails with the field named", async () => {
    const { status, text } = await post(textRequest("openai/gpt-4o-mini"));
    expect(status).toBe(200);
    const good = JSON.parse(text);
    expectConforms("CreateChatCompletionResponse", good);

    const noRefusal = structuredClone(good);
    delete noRefusal.choices[0].message.refusal;
    expect(validate("CreateChatCompletionResponse", noRefusal)).toContainEqual(expect.stringContaining("must have required property 'refusal'"));

    const badFinish = structuredClone(good);
    badFinish.choices[0].finish_reason = "done";
    expect(validate("CreateChatCompletionResponse", badFinish).some((e) => e.startsWith("/choices/0/finish_reason"))).toBe(true);

    const badCreated = { ...good, created: "yesterday" };
    expect(validate("CreateChatCompletionResponse", badCreated).some((e) => e.startsWith("/created"))).toBe(true);

    const wrongObject = { ...good, object: "chat.completion.chunk" };
    expect(validate("CreateChatCompletionResponse", wrongObject).some((e) => e.startsWith("/object"))).toBe(true);
  });

  test("nullable (OpenAPI 3.0 style) still rejects wrong types, and enums stay enums", () => {
    const chunk = { id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: {}, finish_reason: null }] };
    expectConforms("CreateChatCompletionStreamResponse", chunk);
    expectConforms("CreateChatCompletionStreamResponse", { ...chunk, choices: [], usage: null });
    expect(validate("CreateChatCompletionStreamResponse", { ...chunk, choices: [{ index: 0, delta: {}, finish_reason: "finished" }] }).length).toBeGreaterThan(0);
    expect(validate("CreateChatCompletionStreamResponse", { ...chunk, usage: { prompt_tokens: "1" } }).length).toBeGreaterThan(0);
    expect(validate("ErrorResponse", { error: { message: "m", type: "t", code: null } })).toContainEqual(expect.stringContaining("'param'"));
  });

  test("an unknown component name throws instead of validating nothing; the names later tests need exist", () => {
    expect(() => validate("NoSuchSchema", {})).toThrow(/no component schema/);
    const names = componentNames();
    for (const n of ["CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ListModelsResponse", "ErrorResponse", "Response", "ResponseStreamEvent", "CreateEmbeddingResponse"])
      expect(names.has(n)).toBe(true);
  });
});

// Each provider path: the model name that reaches it.
const PATHS = [
  { path: "mock", model: "mock/echo-1" },
  { path: "OpenAI passthrough", model: "openai/gpt-4o-mini" },
  { path: "Anthropic translated", model: "anthropic/claude-sonnet-4-5" },
  { path: "Bedrock translated", model: `bedrock/${HAIKU}` },
] as const;

describe.each(PATHS)("$path", ({ model }) => {
  test("a text answer is a CreateChatCompletionResponse", async () => {
    const { status, text } = await post(textRequest(model));
    expect(status).toBe(200);
    const body = JSON.parse(text);
    expectConforms("CreateChatCompletionResponse", body);
    expect(typeof body.choices[0].message.content).toBe("string");
    expect(body.choices[0].finish_reason).toBe("stop");
  });

  test("a tool-call answer is a CreateChatCompletionResponse", async () => {
    const { status, text } = await post(toolRequest(model));
    expect(status).toBe(200);
    const body = JSON.parse(text);
    expectConforms("CreateChatCompletionResponse", body);
    expect(body.choices[0].message.tool_calls[0].function.name).toBe("get_weather");
    expect(body.choices[0].finish_reason).toBe("tool_calls");
  });

  test("every chunk of a streamed text answer, the usage chunk included, is a CreateChatCompletionStreamResponse", async () => {
    const { status, text } = await post({ ...textRequest(model), stream: true, stream_options: { include_usage: true } });
    expect(status).toBe(200);
    const { events, done } = sseData(text);
    expect(done).toBe(true);
    expect(events.length).toBeGreaterThan(2);
    for (const chunk of events) expectConforms("CreateChatCompletionStreamResponse", chunk);
    expect(events.map((c) => c.choices[0]?.delta?.content ?? "").join("").length).toBeGreaterThan(0);
    const last = events[events.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage.total_tokens).toBeGreaterThan(0);
  });

  test("every chunk of a streamed tool call, the usage chunk included, is a CreateChatCompletionStreamResponse", async () => {
    const { status, text } = await post({ ...toolRequest(model), stream: true, stream_options: { include_usage: true } });
    expect(status).toBe(200);
    const { events, done } = sseData(text);
    expect(done).toBe(true);
    for (const chunk of events) expectConforms("CreateChatCompletionStreamResponse", chunk);
    const calls = events.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(calls[0].function.name).toBe("get_weather");
    expect(events.some((c) => c.choices[0]?.finish_reason === "tool_calls")).toBe(true);
    expect(events[events.length - 1].usage.total_tokens).toBeGreaterThan(0);
  });
});

describe("translated answers with mixed content", () => {
  const mixed = [
    { type: "thinking", thinking: "Let me check the weather.", signature: "sig" },
    { type: "text", text: "Checking." },
    { type: "tool_use", id: "toolu_a", name: "get_weather", input: { city: "Paris" } },
    { type: "tool_use", id: "toolu_b", name: "get_weather", input: {} },
  ];

  test("Anthropic: thinking, text and two tool calls (JSON and stream), and a max_tokens stop", async () => {
    anthropic.script = (c) => {
      const stop = c.body.max_tokens === 1 ? { stop_reason: "max_tokens" } : {};
      const msg = message(c.body.model, stop.stop_reason ? [{ type: "text", text: "Cut" }] : mixed, stop);
      return c.body.stream ? anthropicSse(eventsFor(msg)) : anthropicJson(msg);
    };
    try {
      const json = await post(toolRequest("anthropic/claude-sonnet-4-5"));
      const body = JSON.parse(json.text);
      expectConforms("CreateChatCompletionResponse", body);
      expect(body.choices[0].message.content).toBe("Checking.");
      expect(body.choices[0].message.tool_calls).toHaveLength(2);

      const { events } = sseData((await post({ ...toolRequest("anthropic/claude-sonnet-4-5"), stream: true, stream_options: { include_usage: true } })).text);
      for (const chunk of events) expectConforms("CreateChatCompletionStreamResponse", chunk);
      expect(new Set(events.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []).map((t: { index: number }) => t.index))).toEqual(new Set([0, 1]));

      const long = JSON.parse((await post({ ...textRequest("anthropic/claude-sonnet-4-5"), max_tokens: 1 })).text);
      expectConforms("CreateChatCompletionResponse", long);
      expect(long.choices[0].finish_reason).toBe("length");
    } finally {
      anthropic.script = anthropicDefault;
    }
  });

  test("Bedrock: text beside two tool calls (JSON and stream)", async () => {
    bedrock.script = (c) =>
      c.operation === "converse-stream"
        ? eventStreamResponse(toolFrames("Checking.", [{ id: "t1", name: "get_weather", input: ['{"city"', ': "Paris"}'] }, { id: "t2", name: "get_weather", input: ["{}"] }]))
        : bedrockJson(
            converseBody(
              [{ text: "Checking." }, { toolUse: { toolUseId: "t1", name: "get_weather", input: { city: "Paris" } } }, { toolUse: { toolUseId: "t2", name: "get_weather", input: {} } }],
              "tool_use",
            ),
          );
    try {
      const body = JSON.parse((await post(toolRequest(`bedrock/${HAIKU}`))).text);
      expectConforms("CreateChatCompletionResponse", body);
      expect(body.choices[0].message.content).toBe("Checking.");
      expect(body.choices[0].message.tool_calls).toHaveLength(2);

      const { events } = sseData((await post({ ...toolRequest(`bedrock/${HAIKU}`), stream: true, stream_options: { include_usage: true } })).text);
      for (const chunk of events) expectConforms("CreateChatCompletionStreamResponse", chunk);
      expect(events.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("Checking.");
      expect(events.some((c) => c.choices[0]?.finish_reason === "tool_calls")).toBe(true);
    } finally {
      bedrock.script = bedrockDefault;
    }
  });
});

describe("OpenAI passthrough", () => {
  test("the answer is the upstream's bytes, unchanged (conformance comes from the upstream, nothing is added)", async () => {
    const sent: string[] = [];
    openai.script = async (call, signal) => {
      const res = await openaiDefault(call, signal);
      sent.push(await res.clone().text());
      return res;
    };
    try {
      const { status, text } = await post(textRequest("openai/gpt-4o-mini"));
      expect(status).toBe(200);
      expect(text).toBe(sent[0]!);
      expectConforms("CreateChatCompletionResponse", JSON.parse(text));
    } finally {
      openai.script = openaiDefault;
    }
  });
});

describe("/v1/models", () => {
  test("the list is a ListModelsResponse", async () => {
    const res = await fetch(`${gw.url}/v1/models`, { headers: AUTH });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<{ id: string }> };
    expectConforms("ListModelsResponse", body);
    expect(body.data.map((m) => m.id)).toContain("mock/echo-1");
  });
});

describe("error bodies are ErrorResponse", () => {
  async function expectError(res: { status: number; text: string }, status: number): Promise<any> {
    expect(res.status).toBe(status);
    const body = JSON.parse(res.text);
    expectConforms("ErrorResponse", body);
    return body;
  }

  test("400: a body that is not JSON, and one without messages", async () => {
    await expectError(await post("{not json"), 400);
    await expectError(await post({ model: "mock/echo-1" }), 400);
  });

  test("404: an unknown model and an unknown route", async () => {
    const body = await expectError(await post(textRequest("no-such-model")), 404);
    expect(body.error.param).toBe("model");
    const res = await fetch(`${gw.url}/v1/nothing-here`, { headers: AUTH });
    await expectError({ status: res.status, text: await res.text() }, 404);
  });

  test("401: no gateway key, and a wrong one (chat and /v1/models)", async () => {
    await expectError(await post(textRequest("mock/echo-1"), {}), 401);
    await expectError(await post(textRequest("mock/echo-1"), { authorization: "Bearer sk-wrong" }), 401);
    const res = await fetch(`${gw.url}/v1/models`);
    await expectError({ status: res.status, text: await res.text() }, 401);
  });

  test("upstream 5xx on every provider path", async () => {
    openai.script = () => openaiError(500, "The server had an error while processing your request.", "server_error");
    anthropic.script = () => anthropicError(529, "overloaded_error", "Overloaded");
    bedrock.script = () => bedrockError(500, "InternalServerException", "Internal server error");
    try {
      await expectError(await post(textRequest("openai/gpt-4o-mini")), 502);
      await expectError(await post(textRequest("anthropic/claude-sonnet-4-5")), 503);
      await expectError(await post(textRequest(`bedrock/${HAIKU}`)), 502);
      await expectError(await post(textRequest("mock_down/echo-1")), 503);
    } finally {
      openai.script = openaiDefault;
      anthropic.script = anthropicDefault;
      bedrock.script = bedrockDefault;
    }
  });

  test("an upstream failure after the stream began ends it with an ErrorResponse event", async () => {
    anthropic.script = (c) => {
      const frames = eventsFor(message(c.body.model, [{ type: "text", text: "Partial answer here" }]));
      return anthropicSse([...frames.slice(0, 4), frame({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })]);
    };
    try {
      const { status, text } = await post({ ...textRequest("anthropic/claude-sonnet-4-5"), stream: true });
      expect(status).toBe(200);
      const { events, done } = sseData(text);
      expect(done).toBe(false);
      const last = events.pop();
      expectConforms("ErrorResponse", last);
      expect(events.length).toBeGreaterThan(0);
      for (const chunk of events) expectConforms("CreateChatCompletionStreamResponse", chunk);
    } finally {
      anthropic.script = anthropicDefault;
    }
  });
});
