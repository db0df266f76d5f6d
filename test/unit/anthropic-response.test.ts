// fromAnthropicResponse: Messages API bodies (in the shape of Anthropic's documented examples) → chat.completion.
import { describe, expect, test } from "bun:test";
import { finishReason, fromAnthropicResponse, toUsage } from "../../src/providers/anthropic/response.ts";
import type { AnthropicResponse } from "../../src/providers/anthropic/schema.ts";

const O = { model: "anthropic/claude-sonnet-4-5", created: 1_700_000_000 };

/** Blocks as Anthropic sends them, extra keys and all (the schema reads only what it needs). */
function msg(content: Array<Record<string, unknown> & { type: string }>, extra: Partial<AnthropicResponse> = {}): AnthropicResponse {
  return {
    id: "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5-20250929",
    content: content as AnthropicResponse["content"],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 2095, output_tokens: 503 },
    ...extra,
  };
}

describe("fromAnthropicResponse", () => {
  test("text: id, created, the client's model, content, stop, usage", () => {
    const r = fromAnthropicResponse(msg([{ type: "text", text: "Hi! My name is Claude." }]), O);
    expect(r).toEqual({
      id: "msg_013Zva2CMHLNnXjNJJKqJ2EF",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "anthropic/claude-sonnet-4-5",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi! My name is Claude.", refusal: null }, finish_reason: "stop", logprobs: null }],
      usage: { prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, prompt_tokens_details: { cached_tokens: 0 } },
    });
  });

  test("several text blocks join; no text at all is null content", () => {
    const r = fromAnthropicResponse(msg([{ type: "text", text: "Hello" }, { type: "text", text: ", world" }]), O);
    expect(r.choices[0]!.message.content).toBe("Hello, world");
    const empty = fromAnthropicResponse(msg([], { stop_reason: "max_tokens" }), O);
    expect(empty.choices[0]!.message.content).toBeNull();
    expect(empty.choices[0]!.finish_reason).toBe("length");
  });

  test("tool use after a text block: tool_calls with ids and JSON-string arguments", () => {
    const r = fromAnthropicResponse(
      msg(
        [
          { type: "text", text: "I'll check the weather in both cities." },
          { type: "tool_use", id: "toolu_01A09q90qw90lq917835lq9", name: "get_weather", input: { location: "San Francisco, CA", unit: "celsius" } },
          { type: "tool_use", id: "toolu_01B19q90qw90lq917835lq8", name: "get_weather", input: { location: "New York, NY" } },
        ],
        { stop_reason: "tool_use" },
      ),
      O,
    );
    const m = r.choices[0]!.message;
    expect(m.content).toBe("I'll check the weather in both cities.");
    expect(m.tool_calls).toEqual([
      { id: "toolu_01A09q90qw90lq917835lq9", type: "function", function: { name: "get_weather", arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } },
      { id: "toolu_01B19q90qw90lq917835lq8", type: "function", function: { name: "get_weather", arguments: '{"location":"New York, NY"}' } },
    ]);
    expect(r.choices[0]!.finish_reason).toBe("tool_calls");
  });

  test("thinking, redacted_thinking and unknown block types never reach content", () => {
    const r = fromAnthropicResponse(
      msg([
        { type: "thinking", thinking: "Let me analyze this step by step...", signature: "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve" },
        { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw" },
        { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "x" } },
        { type: "some_future_block", payload: { a: 1 } },
        { type: "text", text: "Based on my analysis..." },
      ]),
      O,
    );
    expect(r.choices[0]!.message.content).toBe("Based on my analysis...");
    expect(r.choices[0]!.message.tool_calls).toBeUndefined();
  });

  test("usage with cache tokens: prompt counts reads and writes, cached_tokens the reads", () => {
    expect(toUsage({ input_tokens: 50, cache_creation_input_tokens: 248, cache_read_input_tokens: 1800, output_tokens: 503 })).toEqual({
      prompt_tokens: 2098,
      completion_tokens: 503,
      total_tokens: 2601,
      prompt_tokens_details: { cached_tokens: 1800, cache_write_tokens: 248 },
    });
    expect(toUsage(undefined).total_tokens).toBe(0);
  });

  test("every stop reason maps per translation.md; unknown ones read as stop", () => {
    const table: Array<[string | null, string]> = [
      ["end_turn", "stop"],
      ["stop_sequence", "stop"],
      ["pause_turn", "stop"],
      ["max_tokens", "length"],
      ["model_context_window_exceeded", "length"],
      ["tool_use", "tool_calls"],
      ["refusal", "content_filter"],
      ["malformed_tool_use", "stop"],
      ["brand_new_reason", "stop"],
      [null, "stop"],
    ];
    for (const [stop, want] of table) expect([stop, finishReason(stop, true)]).toEqual([stop, want]);
  });

  test("the response_format tool's input is the content, finishing as stop", () => {
    const jsonTool = { name: "answer", forced: true };
    const r = fromAnthropicResponse(
      msg([{ type: "tool_use", id: "toolu_x", name: "answer", input: { answer: "42" } }], { stop_reason: "tool_use" }),
      { ...O, jsonTool },
    );
    expect(r.choices[0]!.message.content).toBe('{"answer":"42"}');
    expect(r.choices[0]!.message.tool_calls).toBeUndefined();
    expect(r.choices[0]!.finish_reason).toBe("stop");
    // Alongside a real tool call, the real one stays a tool call.
    const both = fromAnthropicResponse(
      msg(
        [
          { type: "tool_use", id: "t1", name: "get_weather", input: {} },
          { type: "tool_use", id: "t2", name: "answer", input: { answer: "x" } },
        ],
        { stop_reason: "tool_use" },
      ),
      { ...O, jsonTool: { name: "answer", forced: false } },
    );
    expect(both.choices[0]!.message.tool_calls!.map((c) => c.function.name)).toEqual(["get_weather"]);
    expect(both.choices[0]!.finish_reason).toBe("tool_calls");
  });
});
