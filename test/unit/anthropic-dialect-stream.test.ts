// The Anthropic Messages ingress stream encoder: OpenAI-shaped chunks (as OpenAI-type upstreams send them) in,
// Anthropic's documented events out. Expected event sequences follow the transcripts in
// https://docs.claude.com/en/docs/build-with-claude/streaming ("Basic streaming request", "Streaming request with tool
// use", "Streaming request with extended thinking", "Error events").
import { describe, expect, test } from "bun:test";
import type { SseEvent } from "../../src/dialects/dialect.ts";
import { encoder, fail, finish, initStream, step, type StreamState } from "../../src/dialects/anthropic/stream.ts";
import { AlloyError } from "../../src/errors.ts";
import type { ChatChunk, ToolCallDelta, Usage } from "../../src/openai/schema.ts";

const init = (inputTokens = 25) => initStream({ requestId: "req_018EeWyXxfu5pfWkrYcMdjWG", model: "claude-sonnet-4-5", created: 1_700_000_000, inputTokens });

type Delta = ChatChunk["choices"][0]["delta"] & { reasoning_content?: string };
const chunk = (delta: Delta, finish_reason: ChatChunk["choices"][0]["finish_reason"] = null): ChatChunk => ({
  id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "gpt-4.1",
  choices: [{ index: 0, delta, finish_reason, logprobs: null }],
});
const usageChunk = (u: Usage): ChatChunk => ({ id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", object: "chat.completion.chunk", created: 1_700_000_000, model: "gpt-4.1", choices: [], usage: u });
const usage = (prompt: number, completion: number, cached = 0): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  prompt_tokens_details: { cached_tokens: cached },
});
const tool = (d: ToolCallDelta) => chunk({ tool_calls: [d] });

function run(chunks: ChatChunk[], s: StreamState = init()): SseEvent[] {
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...step(s, c));
  out.push(...finish(s));
  return out;
}

/** `type` or `type:index` (+ the block/delta type) per event, to compare orders at a glance. */
function shape(events: SseEvent[]): string[] {
  return events.map((e) => {
    const d = e.data as { type: string; index?: number; content_block?: { type: string }; delta?: { type?: string } };
    expect(e.event).toBe(d.type); // the SSE event name is the data's type
    if (d.type === "content_block_start") return `start:${d.index}:${d.content_block!.type}`;
    if (d.type === "content_block_delta") return `delta:${d.index}:${d.delta!.type}`;
    if (d.type === "content_block_stop") return `stop:${d.index}`;
    return d.type;
  });
}

const data = <T = Record<string, unknown>>(events: SseEvent[], type: string): T[] => events.map((e) => e.data as T & { type: string }).filter((d) => d.type === type);

describe("Anthropic stream encoder", () => {
  test("text: message_start (estimate as input usage), ping, one text block, message_delta after the usage chunk, message_stop", () => {
    const events = run([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hello" }),
      chunk({ content: "!" }),
      chunk({}, "stop"),
      usageChunk(usage(25, 15)),
    ]);
    expect(shape(events)).toEqual(["message_start", "ping", "start:0:text", "delta:0:text_delta", "delta:0:text_delta", "stop:0", "message_delta", "message_stop"]);
    expect(events[0]!.data).toEqual({
      type: "message_start",
      message: {
        id: "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 25, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    });
    expect(events[2]!.data).toEqual({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    expect(events[3]!.data).toEqual({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } });
    expect(data(events, "message_delta")).toEqual([
      {
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { input_tokens: 25, output_tokens: 15, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    ]);
    expect(events.at(-1)!.data).toEqual({ type: "message_stop" });
  });

  test("message_delta is not sent at finish_reason but when the trailing usage chunk (choices: []) arrives", () => {
    const s = init();
    expect(shape(step(s, chunk({ content: "Hi" })))).toEqual(["message_start", "ping", "start:0:text", "delta:0:text_delta"]);
    expect(shape(step(s, chunk({}, "stop")))).toEqual(["stop:0"]);
    const onUsage = step(s, usageChunk(usage(1200, 7, 1000)));
    expect(shape(onUsage)).toEqual(["message_delta"]);
    // Real input counts, cache reads apart, replace the estimate.
    expect((onUsage[0]!.data as { usage: object }).usage).toEqual({ input_tokens: 200, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 1000 });
    expect(shape(finish(s))).toEqual(["message_stop"]);
  });

  test("text then two tool calls: blocks 0, 1, 2, each closed before the next opens; input_json_delta fragments; stop_reason tool_use", () => {
    const events = run([
      chunk({ role: "assistant", content: "Okay, let's check the weather for San Francisco, CA:" }),
      tool({ index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", type: "function", function: { name: "get_weather", arguments: "" } }),
      tool({ index: 0, function: { arguments: '{"location":' } }),
      tool({ index: 0, function: { arguments: ' "San Francisco, CA"}' } }),
      tool({ index: 1, id: "toolu_02", type: "function", function: { name: "get_time", arguments: '{"tz":"PST"}' } }),
      chunk({}, "tool_calls"),
      usageChunk(usage(472, 89)),
    ]);
    expect(shape(events)).toEqual([
      "message_start",
      "ping",
      "start:0:text",
      "delta:0:text_delta",
      "stop:0",
      "start:1:tool_use",
      "delta:1:input_json_delta",
      "delta:1:input_json_delta",
      "stop:1",
      "start:2:tool_use",
      "delta:2:input_json_delta",
      "stop:2",
      "message_delta",
      "message_stop",
    ]);
    expect(events[5]!.data).toEqual({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather", input: {} } });
    expect(data<{ delta: { partial_json?: string } }>(events, "content_block_delta").slice(1).map((d) => d.delta.partial_json)).toEqual(['{"location":', ' "San Francisco, CA"}', '{"tz":"PST"}']);
    expect(data<{ delta: { stop_reason: string } }>(events, "message_delta")[0]!.delta.stop_reason).toBe("tool_use");
  });

  test("thinking then text: reasoning_content → a thinking block (thinking_delta) at 0, then the text block at 1", () => {
    const events = run([
      chunk({ role: "assistant", reasoning_content: "Let me solve this step by step:\n\n1. First break down 27 * 453" }),
      chunk({ reasoning_content: "\n2. 453 = 400 + 50 + 3" }),
      chunk({ content: "27 * 453 = 12,231" }),
      chunk({}, "stop"),
      usageChunk(usage(50, 120)),
    ]);
    expect(shape(events)).toEqual(["message_start", "ping", "start:0:thinking", "delta:0:thinking_delta", "delta:0:thinking_delta", "stop:0", "start:1:text", "delta:1:text_delta", "stop:1", "message_delta", "message_stop"]);
    expect(events[2]!.data).toEqual({ type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } });
    expect(events[3]!.data).toEqual({ type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Let me solve this step by step:\n\n1. First break down 27 * 453" } });
    // `reasoning` (OpenRouter, Ollama) works the same way.
    expect(shape(run([chunk({ reasoning: "hmm" } as Delta), chunk({ content: "ok" }, "stop")]))).toContain("start:0:thinking");
  });

  test("chunks without choices are tolerated anywhere; an upstream that sends no usage still gets a message_delta with non-zero estimates", () => {
    const keepAlive = { ...usageChunk(usage(0, 0)), usage: null } as ChatChunk;
    const noChoices = { id: "x", object: "chat.completion.chunk", created: 1, model: "m" } as unknown as ChatChunk; // no `choices` at all
    const events = run([keepAlive, chunk({ content: "Hello world" }), noChoices, chunk({}, "stop")], init(30));
    expect(shape(events)).toEqual(["message_start", "ping", "start:0:text", "delta:0:text_delta", "stop:0", "message_delta", "message_stop"]);
    const u = data<{ usage: { input_tokens: number; output_tokens: number } }>(events, "message_delta")[0]!.usage;
    expect(u.input_tokens).toBe(30);
    expect(u.output_tokens).toBeGreaterThan(0);
  });

  test("usage in the finish chunk itself (some upstreams) emits message_delta right away, once", () => {
    const s = init();
    step(s, chunk({ content: "x" }));
    const withFinish = { ...chunk({}, "length"), usage: usage(10, 4) };
    expect(shape(step(s, withFinish))).toEqual(["stop:0", "message_delta"]);
    expect(shape(step(s, usageChunk(usage(10, 4))))).toEqual([]);
    const all = [...finish(s)];
    expect(shape(all)).toEqual(["message_stop"]);
  });

  test("an empty stream still is a whole message: message_start, message_delta, message_stop", () => {
    const events = run([]);
    expect(shape(events)).toEqual(["message_start", "ping", "message_delta", "message_stop"]);
    expect((events[0]!.data as { message: { usage: { input_tokens: number } } }).message.usage.input_tokens).toBe(25);
  });

  test("message_start never carries zero input tokens, even for a zero estimate", () => {
    const events = run([chunk({ content: "x" }, "stop")], init(0));
    expect((events[0]!.data as { message: { usage: { input_tokens: number } } }).message.usage.input_tokens).toBe(1);
  });

  test("fail mid-stream: one error event with Anthropic's body, no message_stop, nothing after", () => {
    const s = init();
    const before = [...step(s, chunk({ content: "Hel" }))];
    const err = fail(s, new AlloyError("overloaded", "Overloaded"));
    expect(err).toEqual([{ event: "error", data: { type: "error", error: { type: "overloaded_error", message: "Overloaded" }, request_id: "req_018EeWyXxfu5pfWkrYcMdjWG" } }]);
    expect(shape(before)).toEqual(["message_start", "ping", "start:0:text", "delta:0:text_delta"]);
    expect(step(s, chunk({ content: "lo" }))).toEqual([]);
    expect(finish(s)).toEqual([]);
  });

  test("the encoder object implements StreamEncoder with the same functions", () => {
    expect(encoder.step).toBe(step);
    expect(encoder.finish).toBe(finish);
    expect(encoder.fail).toBe(fail);
  });
});
