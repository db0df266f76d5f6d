// The official Anthropic TypeScript SDK reads what the dialect's codecs produce: the stream encoder's events serialised
// as SSE (`event: X\ndata: JSON\n\n`, as the HTTP layer writes them) go through the SDK's own stream parser and
// MessageStream accumulator; toMessage's JSON through messages.create; errorReply through its error classes.
// A fetch mock stands in for the network, so nothing leaves the process.
import Anthropic, { APIError } from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import type { SseEvent } from "../../src/dialects/dialect.ts";
import { toMessage } from "../../src/dialects/anthropic/encode.ts";
import { errorReply } from "../../src/dialects/anthropic/errors.ts";
import { fail, finish, initStream, step } from "../../src/dialects/anthropic/stream.ts";
import { AlloyError } from "../../src/errors.ts";
import type { ChatChunk, ChatResponse } from "../../src/openai/schema.ts";

const REQ = "req_018EeWyXxfu5pfWkrYcMdjWG";
const params = { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user" as const, content: "Weather in SF?" }] };

const sse = (events: SseEvent[]) => events.map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`).join("");

/** A client whose fetch answers every request with `respond()`; the requests it saw are kept. */
function client(respond: () => Response) {
  const seen: Request[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    seen.push(input instanceof Request ? input : new Request(String(input), init));
    return respond();
  };
  return { anthropic: new Anthropic({ apiKey: "x", baseURL: "http://alloy.test", fetch, maxRetries: 0 }), seen };
}

/** Bytes in small pieces so events straddle reads, the way a socket delivers them. */
function sseResponse(text: string): Response {
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 11) c.enqueue(bytes.slice(i, i + 11));
      c.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "request-id": REQ } });
}

const chunk = (delta: Record<string, unknown>, finish_reason: ChatChunk["choices"][0]["finish_reason"] = null): ChatChunk => ({
  id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "gpt-4.1",
  choices: [{ index: 0, delta, finish_reason, logprobs: null }],
});

function encode(chunks: ChatChunk[]): SseEvent[] {
  const s = initStream({ requestId: REQ, model: "claude-sonnet-4-5", created: 1_700_000_000, inputTokens: 40 });
  return [...chunks.flatMap((c) => step(s, c)), ...finish(s)];
}

describe("the Anthropic SDK accepts the dialect's output", () => {
  test("messages.stream().finalMessage() over thinking, text and two tool calls with a trailing usage chunk", async () => {
    const events = encode([
      chunk({ role: "assistant", reasoning_content: "The user wants weather." }),
      chunk({ content: "Let me check." }),
      chunk({ tool_calls: [{ index: 0, id: "toolu_01A", type: "function", function: { name: "get_weather", arguments: '{"location":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"San Francisco, CA"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: "toolu_01B", type: "function", function: { name: "get_time", arguments: "" } }] }),
      chunk({}, "tool_calls"),
      { ...chunk({}), choices: [], usage: { prompt_tokens: 1200, completion_tokens: 60, total_tokens: 1260, prompt_tokens_details: { cached_tokens: 1000 } } },
    ]);
    const { anthropic, seen } = client(() => sseResponse(sse(events)));
    const texts: string[] = [];
    const stream = anthropic.messages.stream(params).on("text", (t) => texts.push(t));
    const msg = await stream.finalMessage();
    expect(seen[0]!.url).toBe("http://alloy.test/v1/messages");
    // toMatchObject: the SDK adds bookkeeping of its own (parsed_output, a JSON buffer on tool_use blocks).
    expect(msg).toMatchObject({
      id: "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [
        { type: "thinking", thinking: "The user wants weather.", signature: "" },
        { type: "text", text: "Let me check." },
        { type: "tool_use", id: "toolu_01A", name: "get_weather", input: { location: "San Francisco, CA" } },
        { type: "tool_use", id: "toolu_01B", name: "get_time", input: {} },
      ],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 200, output_tokens: 60, cache_creation_input_tokens: 0, cache_read_input_tokens: 1000 },
    });
    expect(texts).toEqual(["Let me check."]);
  });

  test("a plain text stream: finalText() and the estimate replaced by the real input count", async () => {
    const events = encode([chunk({ content: "Hello" }), chunk({ content: "!" }), chunk({}, "stop"), { ...chunk({}), choices: [], usage: { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 } }]);
    const { anthropic } = client(() => sseResponse(sse(events)));
    const stream = anthropic.messages.stream(params);
    expect(await stream.finalText()).toBe("Hello!");
    const msg = await stream.finalMessage();
    expect(msg.usage.input_tokens).toBe(25);
    expect(msg.usage.output_tokens).toBe(15);
    expect(msg.stop_reason).toBe("end_turn");
  });

  test("a mid-stream failure surfaces as the SDK's APIError with Anthropic's error type", async () => {
    const s = initStream({ requestId: REQ, model: "claude-sonnet-4-5", created: 1_700_000_000, inputTokens: 40 });
    const events = [...step(s, chunk({ content: "Hel" })), ...fail(s, new AlloyError("overloaded", "Overloaded"))];
    const { anthropic } = client(() => sseResponse(sse(events)));
    const err = await anthropic.messages.stream(params).finalMessage().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).error).toEqual({ type: "error", error: { type: "overloaded_error", message: "Overloaded" }, request_id: REQ });
  });

  test("messages.create() returns toMessage's JSON as a Message", async () => {
    const res: ChatResponse = {
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "gpt-4.1",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi! My name is Claude." }, finish_reason: "stop", logprobs: null }],
      usage: { prompt_tokens: 10, completion_tokens: 8, total_tokens: 18 },
    };
    const body = toMessage(res, { requestId: REQ, model: "claude-sonnet-4-5", created: 1_700_000_000 });
    const { anthropic } = client(() => Response.json(body, { headers: { "request-id": REQ } }));
    const msg = await anthropic.messages.create(params);
    expect(msg.content).toEqual([{ type: "text", text: "Hi! My name is Claude." }] as Anthropic.ContentBlock[]);
    expect(msg.usage.input_tokens).toBe(10);
  });

  test("errorReply's status and body become the SDK's error classes (529 overloaded, 429 with retry-after)", async () => {
    const overloaded = errorReply(new AlloyError("overloaded", "Overloaded"), REQ);
    const { anthropic } = client(() => Response.json(overloaded.body, { status: overloaded.status }));
    const e1 = await anthropic.messages.create(params).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(APIError);
    expect((e1 as APIError).status).toBe(529);
    expect((e1 as APIError).type).toBe("overloaded_error");

    const limited = errorReply(new AlloyError("rate_limit", "Rate limited", { retryAfterMs: 3000 }), REQ);
    const c2 = client(() => Response.json(limited.body, { status: limited.status, headers: limited.headers }));
    const e2 = await c2.anthropic.messages.create(params).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(Anthropic.RateLimitError);
    expect((e2 as APIError).headers?.get("retry-after")).toBe("3");
    expect((e2 as APIError).error).toMatchObject({ request_id: REQ });
  });
});
