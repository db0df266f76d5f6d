// Converse responses → OpenAI chat.completion, on the response shapes of AWS's Converse docs.
import { describe, expect, test } from "bun:test";
import { finishReason, fromConverseResponse, toUsage } from "../../src/providers/bedrock/response.ts";

const meta = { id: "chatcmpl-req1", model: "bedrock/anthropic.claude-3-haiku-20240307-v1:0", created: 1_700_000_000 };

describe("fromConverseResponse", () => {
  test("text answer: content, stop, usage, the client's model name", () => {
    const res = fromConverseResponse(
      {
        output: { message: { role: "assistant", content: [{ text: "The most popular song on WZPZ is " }, { text: "Elemental Hotel." }] } },
        stopReason: "end_turn",
        usage: { inputTokens: 375, outputTokens: 85, totalTokens: 460 },
      },
      meta,
    );
    expect(res).toEqual({
      id: "chatcmpl-req1",
      object: "chat.completion",
      created: 1_700_000_000,
      model: meta.model,
      choices: [
        { index: 0, message: { role: "assistant", content: "The most popular song on WZPZ is Elemental Hotel.", refusal: null }, finish_reason: "stop", logprobs: null },
      ],
      usage: { prompt_tokens: 375, completion_tokens: 85, total_tokens: 460, prompt_tokens_details: { cached_tokens: 0 } },
    });
  });

  test("toolUse blocks (the docs' top_song answer) become tool_calls with Bedrock's ids and JSON-string arguments", () => {
    const res = fromConverseResponse(
      {
        output: {
          message: {
            role: "assistant",
            content: [{ toolUse: { toolUseId: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", name: "top_song", input: { sign: "WZPZ" } } }],
          },
        },
        stopReason: "tool_use",
        usage: { inputTokens: 375, outputTokens: 85, totalTokens: 460 },
      },
      meta,
    );
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([
      { id: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", type: "function", function: { name: "top_song", arguments: '{"sign":"WZPZ"}' } },
    ]);
  });

  test("reasoning blocks never leak into content", () => {
    const res = fromConverseResponse(
      {
        output: {
          message: { role: "assistant", content: [{ reasoningContent: { reasoningText: { text: "secret thoughts", signature: "sig" } } }, { text: "42" }] },
        },
        stopReason: "end_turn",
        usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
      },
      meta,
    );
    expect(res.choices[0]!.message.content).toBe("42");
  });

  test("stop reasons map per translation.md; unknown ones are stop", () => {
    expect(finishReason("end_turn")).toBe("stop");
    expect(finishReason("stop_sequence")).toBe("stop");
    expect(finishReason("max_tokens")).toBe("length");
    expect(finishReason("model_context_window_exceeded")).toBe("length");
    expect(finishReason("tool_use")).toBe("tool_calls");
    expect(finishReason("guardrail_intervened")).toBe("content_filter");
    expect(finishReason("content_filtered")).toBe("content_filter");
    expect(finishReason("malformed_model_output")).toBe("stop");
    expect(finishReason("malformed_tool_use")).toBe("stop");
    expect(finishReason("something_new")).toBe("stop");
    expect(finishReason("constructor")).toBe("stop"); // not Object.prototype.constructor
    expect(finishReason(undefined)).toBe("stop");
  });

  test("usage: cache reads and writes count into the prompt; cached_tokens = reads", () => {
    expect(toUsage({ inputTokens: 10, outputTokens: 4, totalTokens: 1014, cacheReadInputTokens: 800, cacheWriteInputTokens: 200 })).toEqual({
      prompt_tokens: 1010,
      completion_tokens: 4,
      total_tokens: 1014,
      prompt_tokens_details: { cached_tokens: 800, cache_write_tokens: 200 },
    });
    expect(toUsage(undefined)).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } });
  });
});
