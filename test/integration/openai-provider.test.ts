// The OpenAI provider end to end: the official `openai` client → Alloy → a mock OpenAI upstream, over real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { completion, defaultScript, jsonResponse, openaiError, sseResponse, startOpenAIMock, textChunks, type OpenAIMock } from "../mocks/openai-upstream.ts";

let upstream: OpenAIMock;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = startOpenAIMock();
  gw = await startGateway(`
[server]
timeout_secs = 5
[providers.openai]
api_key = "sk-upstream-secret"
base_url = "${upstream.url}"
max_concurrent = 8
timeout_secs = 2
models = ["gpt-4o-mini"]
[providers.groq]
type = "openai"
base_url = "${upstream.url}"
api_key = "gsk-other"
[providers.slowpoke]
type = "openai"
base_url = "${upstream.url}"
api_key = "sk-slowpoke"
timeout_secs = 0.2
[governance]
max_retries = 0
[models.fast]
targets = ["groq/llama-3.1-8b"]
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "client-key-must-not-leak", maxRetries: 0 });
});
afterAll(async () => {
  await gw.stop(false);
  upstream.stop();
});

describe("OpenAI provider through the official client", () => {
  test("plain completion: text, usage, prefix stripped, provider key upstream and client key not", async () => {
    upstream.script = (c) => jsonResponse(completion(c.body.model, "Hi there"));
    const before = upstream.calls.length;
    const res = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hello" }] });
    expect(res.choices[0]!.message.content).toBe("Hi there");
    expect(res.usage?.total_tokens).toBe(17);
    const call = upstream.calls[before]!;
    expect(call.body.model).toBe("gpt-4o-mini");
    expect(call.headers.authorization).toBe("Bearer sk-upstream-secret");
    expect(JSON.stringify(call.headers)).not.toContain("client-key-must-not-leak");
    expect(call.headers["x-request-id"]).toBeTruthy();
  });

  test("bare gpt-* names route to openai; aliases route to their target", async () => {
    upstream.script = (c) => jsonResponse(completion(c.body.model, `model=${c.body.model} auth=${c.headers.authorization}`));
    const a = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] });
    expect(a.choices[0]!.message.content).toBe("model=gpt-4o auth=Bearer sk-upstream-secret");
    const b = await client.chat.completions.create({ model: "fast", messages: [{ role: "user", content: "x" }] });
    expect(b.choices[0]!.message.content).toBe("model=llama-3.1-8b auth=Bearer gsk-other");
  });

  test("unknown fields pass through to OpenAI-type upstreams", async () => {
    upstream.script = (c) => jsonResponse(completion(c.body.model, JSON.stringify({ seed: c.body.seed, custom: c.body.custom_field })));
    const res = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }], seed: 7, custom_field: { a: 1 } } as any);
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual({ seed: 7, custom: { a: 1 } });
  });

  test("streamed text with the usage chunk when asked", async () => {
    upstream.script = (c) => sseResponse(textChunks(c.body.model, ["Hel", "lo", "!"], c.body.stream_options?.include_usage === true));
    const stream = await client.chat.completions.create({
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: any;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("Hello!");
    expect(finish).toBe("stop");
    expect(usage.completion_tokens).toBe(3);
  });

  test("without include_usage the client gets no usage-only chunk (though Alloy asks upstream for it)", async () => {
    upstream.script = (c) => sseResponse(textChunks(c.body.model, ["a", "b"], c.body.stream_options?.include_usage === true));
    const before = upstream.calls.length;
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true }),
    });
    const text = await res.text();
    expect(upstream.calls[before]!.body.stream_options).toEqual({ include_usage: true });
    const events = text.split("\n\n").filter(Boolean);
    expect(events[events.length - 1]).toBe("data: [DONE]");
    for (const e of events.slice(0, -1)) expect(JSON.parse(e.slice(6)).choices.length).toBe(1);
  });

  test("streamed tool calls are assembled by the client", async () => {
    upstream.script = defaultScript;
    const runner = client.chat.completions.stream({
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "weather?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]! as any;
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Paris" });
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
  });

  test("upstream 4xx keep status and message; 5xx become 502 upstream_error", async () => {
    upstream.script = () => openaiError(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key");
    const e1 = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(e1).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(e1.message).toContain("Incorrect API key provided");
    upstream.script = () => openaiError(500, "boom", "server_error");
    const e2 = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(e2.status).toBe(502);
    expect(e2.error.type).toBe("upstream_error");
  });

  test("a slow upstream past its per-attempt timeout is a 504", async () => {
    upstream.script = async (_c, signal) => {
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
      return new Response("late");
    };
    // A provider of its own with a short per-attempt timeout: the others keep 2 s of headroom for ordinary answers.
    const e = await client.chat.completions.create({ model: "slowpoke/gpt-4o-mini", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(e.status).toBe(504);
    expect(e.error.type).toBe("upstream_timeout");
    expect(e.error.message).toContain("0.2s");
  });

  test("a client abort reaches the upstream", async () => {
    upstream.script = (c, signal) => sseResponse(textChunks(c.body.model, ["a", "b", "c"], false), { hangAfter: 2, signal });
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }], stream: true },
      { signal: ac.signal },
    );
    const aborted = upstream.waitForAbort();
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content === "a") ac.abort();
    }
    const call = await aborted;
    expect(call.aborted).toBe(true);
  });
});
