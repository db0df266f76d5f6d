// The Anthropic provider end to end: the official `openai` client → Alloy → a mock Anthropic Messages API that
// validates requests like the real one, over real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import {
  anthropicError,
  defaultScript,
  eventsFor,
  frame,
  jsonResponse,
  message,
  reply,
  sseResponse,
  startAnthropicMock,
  type AnthropicMock,
} from "../mocks/anthropic-upstream.ts";

let upstream: AnthropicMock;
let gw: TestGateway;
let noRetry: TestGateway;
let client: OpenAI;
let client0: OpenAI;

const weather = {
  type: "function" as const,
  function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
};

beforeAll(async () => {
  upstream = startAnthropicMock({ apiKey: "sk-ant-upstream-secret" });
  gw = await startGateway(`
[server]
timeout_secs = 10
[providers.anthropic]
api_key = "sk-ant-upstream-secret"
base_url = "${upstream.url}"
timeout_secs = 5
models = ["claude-sonnet-4-5"]
[governance]
max_retries = 2
backoff_base_ms = 1
backoff_max_ms = 5
`);
  // A second name with type = "anthropic": its key comes from CLAUDE2_API_KEY (the environment wins over the file).
  noRetry = await startGateway(
    `
[providers.claude2]
type = "anthropic"
api_key = "wrong-file-key"
base_url = "${upstream.url}"
[governance]
max_retries = 0
`,
    { CLAUDE2_API_KEY: "sk-ant-upstream-secret" },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "client-key-must-not-leak", maxRetries: 0 });
  client0 = new OpenAI({ baseURL: `${noRetry.url}/v1`, apiKey: "x", maxRetries: 0 });
});
afterAll(async () => {
  await gw.stop(false);
  await noRetry.stop(false);
  upstream.stop();
});

/** Run one request and return the upstream call it made (asserting the mock accepted it). */
async function lastCall<T>(fn: () => Promise<T>): Promise<{ result: T; call: (typeof upstream.calls)[0] }> {
  const before = upstream.calls.length;
  const result = await fn();
  const call = upstream.calls[before]!;
  expect(call.rejected).toBeUndefined();
  return { result, call };
}

async function rawStream(body: object): Promise<string[]> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.text()).split("\n\n").filter(Boolean);
}

describe("Anthropic provider through the official OpenAI client", () => {
  test("plain completion: headers, translated body, content, usage; the client's key never goes upstream", async () => {
    upstream.script = defaultScript;
    const { result, call } = await lastCall(() =>
      client.chat.completions.create({
        model: "anthropic/claude-sonnet-4-5",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "hello" },
        ],
        temperature: 1.5,
      }),
    );
    expect(result.choices[0]!.message.content).toBe("Hello from Claude");
    expect(result.choices[0]!.finish_reason).toBe("stop");
    expect(result.model).toBe("anthropic/claude-sonnet-4-5");
    expect(result.id).toStartWith("msg_");
    expect(result.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    expect(call.path).toBe("/v1/messages");
    expect(call.headers["x-api-key"]).toBe("sk-ant-upstream-secret");
    expect(call.headers["anthropic-version"]).toBe("2023-06-01");
    expect(call.headers["x-request-id"]).toBeTruthy();
    expect(call.headers.authorization).toBeUndefined();
    expect(JSON.stringify(call.headers)).not.toContain("client-key-must-not-leak");
    expect(call.body).toEqual({
      model: "claude-sonnet-4-5",
      max_tokens: 4096,
      system: "Be brief.",
      temperature: 1,
      messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }],
    });
  });

  test("bare claude-* names route to anthropic; a type = \"anthropic\" provider takes <NAME>_API_KEY from the env", async () => {
    upstream.script = defaultScript;
    const { call } = await lastCall(() => client.chat.completions.create({ model: "claude-haiku-4-5", messages: [{ role: "user", content: "x" }] }));
    expect(call.body.model).toBe("claude-haiku-4-5");
    const { result, call: c2 } = await lastCall(() => client0.chat.completions.create({ model: "claude2/claude-opus-4-1", messages: [{ role: "user", content: "x" }] }));
    expect(result.choices[0]!.message.content).toBe("Hello from Claude");
    expect(c2.headers["x-api-key"]).toBe("sk-ant-upstream-secret");
  });

  test("streamed text with the usage chunk (cache tokens included)", async () => {
    upstream.script = (c) =>
      reply(c, message(c.body.model, [{ type: "text", text: "Hello there, friend!" }], { usage: { input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 6 } }));
    const stream = await client.chat.completions.create({
      model: "anthropic/claude-sonnet-4-5",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let role: string | undefined;
    let finish: string | null = null;
    let usage: any;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      role ??= chunk.choices[0]?.delta?.role;
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(role).toBe("assistant");
    expect(text).toBe("Hello there, friend!");
    expect(finish).toBe("stop");
    expect(ids.size).toBe(1);
    expect(usage).toEqual({ prompt_tokens: 130, completion_tokens: 6, total_tokens: 136, prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 20 } });
  });

  test("streamed without include_usage: no usage-only chunk, [DONE] last", async () => {
    upstream.script = defaultScript;
    const events = await rawStream({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }], stream: true });
    expect(events[events.length - 1]).toBe("data: [DONE]");
    for (const e of events.slice(0, -1)) expect(JSON.parse(e.slice(6)).choices.length).toBe(1);
  });

  test("tool call: tools and tool_choice translated, tool_calls back with JSON arguments", async () => {
    upstream.script = defaultScript;
    const { result, call } = await lastCall(() =>
      client.chat.completions.create({
        model: "anthropic/claude-sonnet-4-5",
        messages: [{ role: "user", content: "Weather in Paris?" }],
        tools: [weather],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        parallel_tool_calls: false,
      }),
    );
    expect(call.body.tools).toEqual([{ name: "get_weather", description: "Current weather", input_schema: weather.function.parameters }]);
    expect(call.body.tool_choice).toEqual({ type: "tool", name: "get_weather", disable_parallel_tool_use: true });
    const c = result.choices[0]!;
    expect(c.finish_reason).toBe("tool_calls");
    expect(c.message.content).toBeNull();
    const tc = c.message.tool_calls![0]! as any;
    expect(tc.id).toBe("toolu_mock1");
    expect(tc.function.name).toBe("get_weather");
    expect(JSON.parse(tc.function.arguments)).toEqual({ city: "Paris" });
  });

  test("streamed tool calls after text are assembled by the client (tool-call indexes 0 and 1)", async () => {
    upstream.script = (c) =>
      reply(
        c,
        message(c.body.model, [
          { type: "text", text: "Let me check both." },
          { type: "tool_use", id: "toolu_a", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_b", name: "get_weather", input: { city: "Rome" } },
        ]),
      );
    const runner = client.chat.completions.stream({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "Paris and Rome?" }], tools: [weather] });
    const final = await runner.finalChatCompletion();
    const c = final.choices[0]!;
    expect(c.message.content).toBe("Let me check both.");
    expect(c.finish_reason).toBe("tool_calls");
    const calls = c.message.tool_calls!.map((t: any) => [t.id, t.function.name, JSON.parse(t.function.arguments)]);
    expect(calls).toEqual([
      ["toolu_a", "get_weather", { city: "Paris" }],
      ["toolu_b", "get_weather", { city: "Rome" }],
    ]);
  });

  test("a tool-result round trip: results grouped in one user turn the real API accepts", async () => {
    upstream.script = defaultScript;
    const { result, call } = await lastCall(() =>
      client.chat.completions.create({
        model: "anthropic/claude-sonnet-4-5",
        tools: [weather],
        messages: [
          { role: "user", content: "Paris and Rome?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "toolu_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
              { id: "toolu_b", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
            ],
          },
          { role: "tool", tool_call_id: "toolu_a", content: "18C" },
          { role: "tool", tool_call_id: "toolu_b", content: "22C" },
        ],
      }),
    );
    expect(call.body.messages.map((m: any) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(call.body.messages[2].content).toEqual([
      { type: "tool_result", tool_use_id: "toolu_a", content: "18C" },
      { type: "tool_result", tool_use_id: "toolu_b", content: "22C" },
    ]);
    expect(result.choices[0]!.message.content).toBe('Tool said: "18C"');
  });

  test("images: data URLs and https URLs", async () => {
    upstream.script = defaultScript;
    const { call } = await lastCall(() =>
      client.chat.completions.create({
        model: "anthropic/claude-sonnet-4-5",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Compare" },
              { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQSkZJRg==" } },
              { type: "image_url", image_url: { url: "https://example.com/b.png" } },
            ],
          },
        ],
      }),
    );
    expect(call.body.messages[0].content.slice(1)).toEqual([
      { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQSkZJRg==" } },
      { type: "image", source: { type: "url", url: "https://example.com/b.png" } },
    ]);
  });

  test("each stop reason maps to its finish_reason, JSON and streamed", async () => {
    const table: Array<[string, string]> = [
      ["end_turn", "stop"],
      ["stop_sequence", "stop"],
      ["pause_turn", "stop"],
      ["max_tokens", "length"],
      ["model_context_window_exceeded", "length"],
      ["refusal", "content_filter"],
      ["malformed_tool_use", "stop"],
    ];
    for (const [reason, want] of table) {
      upstream.script = (c) => reply(c, message(c.body.model, [{ type: "text", text: "x" }], { stop_reason: reason }));
      const r = await client.chat.completions.create({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "x" }], stop: ["END"] });
      expect({ reason, got: r.choices[0]!.finish_reason as string }).toEqual({ reason, got: want });
      const s = await client.chat.completions.create({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "x" }], stream: true });
      let fr: string | null = null;
      for await (const ch of s) fr = ch.choices[0]?.finish_reason ?? fr;
      expect({ reason, got: fr }).toEqual({ reason, got: want });
    }
    expect(upstream.calls[upstream.calls.length - 2]!.body.stop_sequences).toEqual(["END"]);
  });

  test("usage with cache tokens (JSON)", async () => {
    upstream.script = (c) =>
      reply(c, message(c.body.model, [{ type: "text", text: "ok" }], { usage: { input_tokens: 50, cache_creation_input_tokens: 248, cache_read_input_tokens: 1800, output_tokens: 503 } }));
    const r = await client.chat.completions.create({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "x" }] });
    expect(r.usage).toEqual({ prompt_tokens: 2098, completion_tokens: 503, total_tokens: 2601, prompt_tokens_details: { cached_tokens: 1800, cache_write_tokens: 248 } });
  });

  test("response_format json_schema: the forced tool's input comes back as the content", async () => {
    upstream.script = (c) => reply(c, message(c.body.model, [{ type: "tool_use", id: "toolu_j", name: c.body.tool_choice.name, input: { answer: "42" } }]));
    const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false };
    const req = {
      model: "anthropic/claude-sonnet-4-5",
      messages: [{ role: "user" as const, content: "What is the answer?" }],
      response_format: { type: "json_schema" as const, json_schema: { name: "answer", schema, strict: true } },
    };
    const { result, call } = await lastCall(() => client.chat.completions.create(req));
    expect(call.body.tool_choice).toEqual({ type: "tool", name: "answer" });
    expect(JSON.parse(result.choices[0]!.message.content!)).toEqual({ answer: "42" });
    expect(result.choices[0]!.finish_reason).toBe("stop");
    let text = "";
    for await (const ch of await client.chat.completions.create({ ...req, stream: true })) text += ch.choices[0]?.delta?.content ?? "";
    expect(JSON.parse(text)).toEqual({ answer: "42" });
  });
});

describe("Anthropic stream lifecycle", () => {
  test("a client that leaves mid-stream aborts the upstream request", async () => {
    upstream.script = (c, signal) => sseResponse(eventsFor(message(c.body.model, [{ type: "text", text: "one two three four" }])), { hangAfter: 5, signal });
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "anthropic/claude-abort", messages: [{ role: "user", content: "x" }], stream: true },
      { signal: ac.signal },
    );
    const aborted = upstream.waitForAbort();
    await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) ac.abort();
    })().catch(() => {});
    expect((await aborted).aborted).toBe(true);
  });
});

describe("Anthropic errors through the gateway", () => {
  test("what the real API rejects comes back as a 400 with Anthropic's message", async () => {
    upstream.script = defaultScript;
    const before = upstream.calls.length;
    const e = await client.chat.completions
      .create({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "x" }, { role: "tool", tool_call_id: "toolu_ghost", content: "r" }] })
      .catch((e) => e);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e.error.type).toBe("invalid_request_error");
    expect(e.message).toContain("toolu_ghost");
    expect(upstream.calls.length - before).toBe(1); // a 400 is never retried
  });

  test("input Anthropic cannot express is a 400 before any upstream call", async () => {
    const before = upstream.calls.length;
    const e = await client.chat.completions
      .create({
        model: "anthropic/claude-sonnet-4-5",
        messages: [{ role: "user", content: "x" }, { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{oops" } }] }],
      })
      .catch((e) => e);
    expect(e.status).toBe(400);
    expect(e.error.param).toBe("messages[1].tool_calls[0].function.arguments");
    expect(upstream.calls.length).toBe(before);
  });

  test("401 from Anthropic is kept, never retried, and leaks no key", async () => {
    upstream.script = () => anthropicError(401, "authentication_error", "invalid x-api-key");
    const before = upstream.calls.length;
    const e = await client.chat.completions.create({ model: "anthropic/claude-auth", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(e.message).toContain("invalid x-api-key");
    expect(JSON.stringify(e.error)).not.toContain("sk-ant-upstream-secret");
    expect(upstream.calls.length - before).toBe(1);
  });

  test("429 is a 429 to the client with Retry-After", async () => {
    upstream.script = () => anthropicError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", { "retry-after": "7" });
    const res = await fetch(`${noRetry.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude2/claude-limited", messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    const body = (await res.json()) as any;
    expect(body.error.type).toBe("rate_limit_exceeded");
    expect(body.error.message).toContain("rate limit");
  });

  test("429 then success: the retry (after the upstream's Retry-After) answers", async () => {
    let n = 0;
    upstream.script = (c) => (++n === 1 ? anthropicError(429, "rate_limit_error", "slow down", { "retry-after": "0" }) : defaultScript(c, new AbortController().signal));
    const r = await client.chat.completions.create({ model: "anthropic/claude-retry", messages: [{ role: "user", content: "x" }] });
    expect(r.choices[0]!.message.content).toBe("Hello from Claude");
    expect(n).toBe(2);
  });

  test("529 overloaded is retried, then a 503 to the client", async () => {
    upstream.script = () => anthropicError(529, "overloaded_error", "Overloaded");
    const before = upstream.calls.length;
    const e = await client.chat.completions.create({ model: "anthropic/claude-overloaded", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(e.status).toBe(503);
    expect(e.error.type).toBe("service_unavailable");
    expect(e.message).toContain("Overloaded");
    expect(upstream.calls.length - before).toBe(3); // first attempt + max_retries = 2
  });

  test("a mid-stream overloaded_error: text, then one error event, and no [DONE]", async () => {
    upstream.script = (c) => {
      const frames = eventsFor(message(c.body.model, [{ type: "text", text: "Partial answer here" }]));
      // Cut after the first text delta (message_start, block start, ping, delta) and fail the way Anthropic does.
      return sseResponse([...frames.slice(0, 4), frame({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })]);
    };
    const before = upstream.calls.length;
    const events = await rawStream({ model: "anthropic/claude-midstream", messages: [{ role: "user", content: "x" }], stream: true });
    expect(upstream.calls.length - before).toBe(1); // nothing is retried once the client has bytes
    expect(events).not.toContain("data: [DONE]");
    const last = JSON.parse(events[events.length - 1]!.slice(6));
    expect(last.error).toMatchObject({ type: "service_unavailable", message: "Overloaded" });
    const text = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe("Partial ");
    // The official client surfaces it as an error too.
    const stream = await client.chat.completions.create({ model: "anthropic/claude-midstream", messages: [{ role: "user", content: "x" }], stream: true });
    const err = await (async () => {
      for await (const _ of stream);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err.message)).toContain("Overloaded");
  });

  test("an error before the first event (529 on a stream request) is retried and becomes a 503", async () => {
    upstream.script = () => anthropicError(529, "overloaded_error", "Overloaded");
    const before = upstream.calls.length;
    const e = await client.chat.completions.create({ model: "anthropic/claude-s529", messages: [{ role: "user", content: "x" }], stream: true }).catch((e) => e);
    expect(e.status).toBe(503);
    expect(upstream.calls.length - before).toBe(3);
  });

  test("a body that is not a Messages response is a 502", async () => {
    upstream.script = () => jsonResponse({ hello: "world" });
    const e = await client.chat.completions.create({ model: "anthropic/claude-weird", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(e.status).toBe(502);
  });
});
