// The streaming layers on recorded-shape Anthropic transcripts: bytes → sseFrames → parseEvent → step/finish.
import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import type { ChatChunk } from "../../src/openai/schema.ts";
import { parseEvent } from "../../src/providers/anthropic/events.ts";
import type { JsonTool } from "../../src/providers/anthropic/request.ts";
import { finish, initStream, step } from "../../src/providers/anthropic/stream.ts";
import { sseFrames } from "../../src/providers/sse.ts";

/** Feed a transcript through all three layers, cut into 7-byte network chunks so events straddle reads. */
async function run(transcript: string, jsonTool?: JsonTool): Promise<ChatChunk[]> {
  const bytes = new TextEncoder().encode(transcript);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.slice(i, i + 7));
      c.close();
    },
  });
  const s = initStream({ model: "claude-x", created: 1_700_000_000, id: "chatcmpl-local", jsonTool });
  const out: ChatChunk[] = [];
  for await (const f of sseFrames(body)) out.push(...step(s, parseEvent(f)));
  out.push(...finish(s));
  return out;
}

const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const start = (usage: object = { input_tokens: 25, output_tokens: 1 }) =>
  ev("message_start", {
    message: { id: "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", type: "message", role: "assistant", content: [], model: "claude-sonnet-4-5", stop_reason: null, stop_sequence: null, usage },
  });
const PING = 'event: ping\ndata: {"type": "ping"}\n\n';
const textStart = (index: number) => ev("content_block_start", { index, content_block: { type: "text", text: "" } });
const text = (index: number, t: string) => ev("content_block_delta", { index, delta: { type: "text_delta", text: t } });
const toolStart = (index: number, id: string, name: string) => ev("content_block_start", { index, content_block: { type: "tool_use", id, name, input: {} } });
const json = (index: number, p: string) => ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: p } });
const stop = (index: number) => ev("content_block_stop", { index });
const delta = (stop_reason: string, usage: object = { output_tokens: 15 }) => ev("message_delta", { delta: { stop_reason, stop_sequence: null }, usage });
const END = ev("message_stop", {});

const deltas = (chunks: ChatChunk[]) => chunks.filter((c) => c.choices.length).map((c) => c.choices[0]!.delta);
const text_ = (chunks: ChatChunk[]) => deltas(chunks).map((d) => d.content ?? "").join("");
const finishes = (chunks: ChatChunk[]) => chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);

describe("Anthropic stream translation", () => {
  test("text: role first, text deltas, finish_reason, then a usage-only chunk; ping ignored; one id throughout", async () => {
    const out = await run(start() + textStart(0) + PING + text(0, "Hello") + text(0, "!") + stop(0) + delta("end_turn") + END);
    expect(out[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" });
    expect(text_(out)).toBe("Hello!");
    expect(finishes(out)).toEqual(["stop"]);
    const last = out[out.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 25, completion_tokens: 15, total_tokens: 40, prompt_tokens_details: { cached_tokens: 0 } });
    expect(new Set(out.map((c) => c.id))).toEqual(new Set(["msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"]));
    expect(out.every((c) => c.model === "claude-x" && c.created === 1_700_000_000 && c.object === "chat.completion.chunk")).toBe(true);
    // The finish chunk comes before the usage chunk and nothing follows the usage chunk.
    expect(out[out.length - 2]!.choices[0]!.finish_reason).toBe("stop");
  });

  test("tool use after a text block: OpenAI tool-call index 0 (not block index 1), id/name first, then argument fragments", async () => {
    const frags = ['{"location":', ' "San Francisc', 'o, CA"', ", ", '"unit": "fah', 'renheit"}'];
    const out = await run(
      start() +
        textStart(0) +
        PING +
        text(0, "Okay, let's check the weather for San Francisco, CA:") +
        stop(0) +
        toolStart(1, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather") +
        json(1, "") +
        frags.map((f) => json(1, f)).join("") +
        stop(1) +
        delta("tool_use", { output_tokens: 89 }) +
        END,
    );
    expect(text_(out)).toBe("Okay, let's check the weather for San Francisco, CA:");
    const calls = deltas(out).flatMap((d) => d.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", type: "function", function: { name: "get_weather", arguments: "" } });
    expect(calls.slice(1)).toEqual(frags.map((f) => ({ index: 0, function: { arguments: f } })));
    expect(JSON.parse(calls.map((c) => c.function?.arguments ?? "").join(""))).toEqual({ location: "San Francisco, CA", unit: "fahrenheit" });
    expect(finishes(out)).toEqual(["tool_calls"]);
  });

  test("multiple tools after a text block count 0, 1 and interleave correctly", async () => {
    const out = await run(
      start() +
        textStart(0) +
        text(0, "Checking both.") +
        stop(0) +
        toolStart(1, "toolu_a", "get_weather") +
        json(1, '{"city":"Paris"}') +
        stop(1) +
        toolStart(2, "toolu_b", "get_time") +
        json(2, '{"tz":') +
        json(2, '"CET"}') +
        stop(2) +
        delta("tool_use") +
        END,
    );
    const calls = deltas(out).flatMap((d) => d.tool_calls ?? []);
    const byIndex = (i: number) => calls.filter((c) => c.index === i);
    expect(byIndex(0)[0]).toMatchObject({ id: "toolu_a", function: { name: "get_weather" } });
    expect(byIndex(1)[0]).toMatchObject({ id: "toolu_b", function: { name: "get_time" } });
    expect(byIndex(1).map((c) => c.function?.arguments).join("")).toBe('{"tz":"CET"}');
    expect(calls.some((c) => c.index === 2)).toBe(false);
  });

  test("a tool called with no input gets arguments {}", async () => {
    const out = await run(start() + toolStart(0, "toolu_n", "now") + json(0, "") + stop(0) + delta("tool_use") + END);
    const args = deltas(out).flatMap((d) => d.tool_calls ?? []).map((c) => c.function?.arguments ?? "").join("");
    expect(args).toBe("{}");
  });

  test("thinking and redacted_thinking blocks never leak into content", async () => {
    const out = await run(
      start() +
        ev("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }) +
        ev("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "Let me solve this step by step:\n\n1. First break down 27 * 453" } }) +
        ev("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..." } }) +
        stop(0) +
        ev("content_block_start", { index: 1, content_block: { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix" } }) +
        stop(1) +
        textStart(2) +
        text(2, "27 * 453 = 12,231") +
        stop(2) +
        delta("end_turn") +
        END,
    );
    expect(text_(out)).toBe("27 * 453 = 12,231");
    expect(JSON.stringify(out)).not.toContain("step by step");
  });

  test("usage with cache tokens from message_start, output (and cumulative input) from message_delta", async () => {
    const out = await run(
      start({ input_tokens: 50, cache_creation_input_tokens: 248, cache_read_input_tokens: 1800, output_tokens: 1 }) +
        textStart(0) +
        text(0, "ok") +
        stop(0) +
        delta("end_turn", { input_tokens: 50, cache_creation_input_tokens: 248, cache_read_input_tokens: 1800, output_tokens: 503 }) +
        END,
    );
    expect(out[out.length - 1]!.usage).toEqual({ prompt_tokens: 2098, completion_tokens: 503, total_tokens: 2601, prompt_tokens_details: { cached_tokens: 1800, cache_write_tokens: 248 } });
  });

  test("stop reasons: max_tokens → length, refusal → content_filter", async () => {
    const table: Array<[string, string]> = [
      ["max_tokens", "length"],
      ["refusal", "content_filter"],
      ["stop_sequence", "stop"],
      ["pause_turn", "stop"],
    ];
    for (const [reason, want] of table) {
      const out = await run(start() + textStart(0) + text(0, "x") + stop(0) + delta(reason) + END);
      expect({ reason, finish: finishes(out) as string[] }).toEqual({ reason, finish: [want] });
    }
  });

  test("a mid-stream overloaded_error throws an overloaded AlloyError after the text already produced", async () => {
    const transcript =
      start() + textStart(0) + text(0, "Hel") + 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n';
    const s = initStream({ model: "m", created: 1, id: "x" });
    const seen: ChatChunk[] = [];
    const err = await (async () => {
      const body = new Response(transcript).body!;
      for await (const f of sseFrames(body)) seen.push(...step(s, parseEvent(f)));
    })().catch((e) => e);
    expect(text_(seen)).toBe("Hel");
    expect(err).toBeInstanceOf(AlloyError);
    expect([err.kind, err.status, err.message]).toEqual(["overloaded", 503, "Overloaded"]);
  });

  test("a stream cut before message_stop is an error, not a clean end", async () => {
    const err = await run(start() + textStart(0) + text(0, "Hel")).catch((e) => e);
    expect(err).toBeInstanceOf(AlloyError);
    expect(err.kind).toBe("network");
  });

  test("unknown event types are skipped; malformed known ones and non-JSON data are errors", async () => {
    const out = await run(start() + ev("brand_new_event", { stuff: 1 }) + textStart(0) + text(0, "ok") + stop(0) + delta("end_turn") + END);
    expect(text_(out)).toBe("ok");
    expect(() => parseEvent({ event: "content_block_delta", data: '{"type":"content_block_delta"}' })).toThrow(AlloyError);
    expect(() => parseEvent({ event: "message_start", data: "{not json" })).toThrow(AlloyError);
    // event names that happen to be Object.prototype members are just unknown events
    expect(parseEvent({ event: "constructor", data: '{"type":"constructor"}' }).type).toBe("unknown");
    expect(parseEvent({ event: "toString", data: '{"type":"toString"}' }).type).toBe("unknown");
  });

  test("a forced response_format tool streams its input JSON as content and finishes with stop", async () => {
    const out = await run(
      start() + toolStart(0, "toolu_j", "answer") + json(0, "") + json(0, '{"answer":') + json(0, ' "42"}') + stop(0) + delta("tool_use") + END,
      { name: "answer", forced: true },
    );
    expect(text_(out)).toBe('{"answer": "42"}');
    expect(deltas(out).some((d) => d.tool_calls)).toBe(false);
    expect(finishes(out)).toEqual(["stop"]);
  });
});
