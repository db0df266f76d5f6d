// ConverseStream events → OpenAI chunks, through the pure step/finish state machine. The transcripts follow the event
// sequences in AWS's ConverseStream docs (messageStart, contentBlockStart/Delta/Stop, messageStop, then metadata).
import { describe, expect, test } from "bun:test";
import type { ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import { AlloyError } from "../../src/errors.ts";
import type { ChatChunk } from "../../src/openai/schema.ts";
import { finish, newStreamState, step } from "../../src/providers/bedrock/stream.ts";

const META = { provider: "bedrock", id: "chatcmpl-s1", model: "bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0", created: 1_700_000_000 };

function run(events: ConverseStreamOutput[]): ChatChunk[] {
  const s = newStreamState(META);
  const out: ChatChunk[] = [];
  for (const e of events) out.push(...step(s, e));
  out.push(...finish(s));
  return out;
}

const deltas = (chunks: ChatChunk[]) => chunks.filter((c) => c.choices.length).map((c) => c.choices[0]!.delta);

describe("Bedrock stream state machine", () => {
  test("text: role first, text deltas, finish_reason on messageStop, the usage-only chunk last", () => {
    const chunks = run([
      { messageStart: { role: "assistant" } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Hello" } } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: " world" } } },
      { contentBlockStop: { contentBlockIndex: 0 } },
      { messageStop: { stopReason: "end_turn" } },
      { metadata: { usage: { inputTokens: 12, outputTokens: 2, totalTokens: 14 }, metrics: { latencyMs: 300 } } },
    ]);
    expect(chunks.every((c) => c.id === "chatcmpl-s1" && c.object === "chat.completion.chunk" && c.model === META.model)).toBe(true);
    expect(deltas(chunks)).toEqual([{ role: "assistant", content: "" }, { content: "Hello" }, { content: " world" }, {}]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason ?? null)).toEqual([null, null, null, "stop", null]);
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 12, completion_tokens: 2, total_tokens: 14, prompt_tokens_details: { cached_tokens: 0 } });
  });

  test("tool calls after text: indexes count tool calls (0, 1), not Bedrock's contentBlockIndex (1, 2)", () => {
    const chunks = run([
      { messageStart: { role: "assistant" } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Checking both stations." } } },
      { contentBlockStop: { contentBlockIndex: 0 } },
      { contentBlockStart: { contentBlockIndex: 1, start: { toolUse: { toolUseId: "tooluse_a", name: "top_song" } } } },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"sign": ' } } } },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '"WZPZ"}' } } } },
      { contentBlockStop: { contentBlockIndex: 1 } },
      { contentBlockStart: { contentBlockIndex: 2, start: { toolUse: { toolUseId: "tooluse_b", name: "top_song" } } } },
      { contentBlockDelta: { contentBlockIndex: 2, delta: { toolUse: { input: '{"sign": "WKRP"}' } } } },
      { contentBlockStop: { contentBlockIndex: 2 } },
      { messageStop: { stopReason: "tool_use" } },
      { metadata: { usage: { inputTokens: 30, outputTokens: 9, totalTokens: 39 }, metrics: { latencyMs: 500 } } },
    ]);
    expect(deltas(chunks)).toEqual([
      { role: "assistant", content: "" },
      { content: "Checking both stations." },
      { tool_calls: [{ index: 0, id: "tooluse_a", type: "function", function: { name: "top_song", arguments: "" } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"sign": ' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"WZPZ"}' } }] },
      { tool_calls: [{ index: 1, id: "tooluse_b", type: "function", function: { name: "top_song", arguments: "" } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{"sign": "WKRP"}' } }] },
      {},
    ]);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)!.choices[0]!.finish_reason).toBe("tool_calls");
  });

  test("the role chunk comes first even when the stream does not open with messageStart", () => {
    const chunks = run([{ contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Hi" } } }, { messageStop: { stopReason: "end_turn" } }]);
    expect(deltas(chunks)).toEqual([{ role: "assistant", content: "" }, { content: "Hi" }, {}]);
  });

  test("reasoning deltas and unknown events never reach the client", () => {
    const chunks = run([
      { messageStart: { role: "assistant" } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: "thinking hard" } } } },
      { $unknown: ["someFutureEvent", {}] },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { text: "42" } } },
      { messageStop: { stopReason: "end_turn" } },
    ]);
    expect(JSON.stringify(chunks)).not.toContain("thinking hard");
    expect(deltas(chunks)).toEqual([{ role: "assistant", content: "" }, { content: "42" }, {}]);
  });

  test("stop reasons and cache usage: max_tokens → length, guardrail → content_filter, unknown → stop", () => {
    const finishOf = (stopReason: string) =>
      run([{ messageStart: { role: "assistant" } }, { messageStop: { stopReason: stopReason as "end_turn" } }]).find((c) => c.choices[0]?.finish_reason)!
        .choices[0]!.finish_reason;
    expect(finishOf("max_tokens")).toBe("length");
    expect(finishOf("guardrail_intervened")).toBe("content_filter");
    expect(finishOf("malformed_model_output")).toBe("stop");
    const chunks = run([
      { messageStart: { role: "assistant" } },
      { messageStop: { stopReason: "end_turn" } },
      { metadata: { usage: { inputTokens: 5, outputTokens: 1, totalTokens: 106, cacheReadInputTokens: 100, cacheWriteInputTokens: 0 }, metrics: { latencyMs: 1 } } },
    ]);
    expect(chunks[chunks.length - 1]!.usage).toEqual({ prompt_tokens: 105, completion_tokens: 1, total_tokens: 106, prompt_tokens_details: { cached_tokens: 100 } });
  });

  test("exception events mid-stream throw an AlloyError of the right kind, carrying the message", () => {
    const cases: Array<[ConverseStreamOutput, string, number, boolean]> = [
      [{ throttlingException: { name: "ThrottlingException", $fault: "client", message: "Too many tokens, please wait." } as never }, "rate_limit", 429, true],
      [{ modelStreamErrorException: { name: "ModelStreamErrorException", $fault: "client", message: "stream broke" } as never }, "server", 502, true],
      [{ internalServerException: { name: "InternalServerException", $fault: "server", message: "oops" } as never }, "server", 502, true],
      [{ validationException: { name: "ValidationException", $fault: "client", message: "bad input" } as never }, "bad_request", 400, false],
      [{ serviceUnavailableException: { name: "ServiceUnavailableException", $fault: "server", message: "later" } as never }, "overloaded", 503, true],
    ];
    for (const [event, kind, status, retryable] of cases) {
      const s = newStreamState(META);
      expect(step(s, { messageStart: { role: "assistant" } }).length).toBe(1);
      let err: unknown;
      try {
        step(s, event);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AlloyError);
      const a = err as AlloyError;
      expect([a.kind, a.status, a.retryable] as unknown[]).toEqual([kind, status, retryable]);
      expect(a.message).toBe((Object.values(event)[0] as { message: string }).message);
    }
  });

  test("a stream that ends before messageStop is an error, not a silent stop", () => {
    const s = newStreamState(META);
    step(s, { messageStart: { role: "assistant" } });
    step(s, { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "cut" } } });
    let err: unknown;
    try {
      finish(s);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AlloyError);
    expect([(err as AlloyError).kind, (err as AlloyError).message]).toEqual(["server", "bedrock ended the stream before messageStop"]);
  });

  test("tool input for a block that never started is an error", () => {
    const s = newStreamState(META);
    expect(() => step(s, { contentBlockDelta: { contentBlockIndex: 3, delta: { toolUse: { input: "{}" } } } })).toThrow(AlloyError);
  });
});
