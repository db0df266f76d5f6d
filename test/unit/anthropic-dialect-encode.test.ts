// The Anthropic Messages ingress, answer side: toMessage (chat.completion → Message), errorReply (AlloyError →
// Anthropic's error shape and status) and estimateTokens. Expected shapes from Anthropic's public docs:
//   https://docs.claude.com/en/api/messages                             (Message object, stop_reason, usage)
//   https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use (tool_use answers)
//   https://docs.claude.com/en/docs/build-with-claude/extended-thinking (thinking blocks before text)
//   https://docs.claude.com/en/api/errors                               (error types, statuses, request_id)
import { describe, expect, test } from "bun:test";
import { estimateTokens, IMAGE_TOKENS, PDF_PAGE_TOKENS } from "../../src/dialects/anthropic/count.ts";
import { validateCountTokens, validateMessages } from "../../src/dialects/anthropic/decode.ts";
import { toMessage } from "../../src/dialects/anthropic/encode.ts";
import { errorReply } from "../../src/dialects/anthropic/errors.ts";
import { AlloyError, type ErrorKind } from "../../src/errors.ts";
import type { ChatResponse } from "../../src/openai/schema.ts";

const ctx = { requestId: "req_018EeWyXxfu5pfWkrYcMdjWG", model: "claude-sonnet-4-5", created: 1_700_000_000 };

function completion(message: Record<string, unknown>, finish: string | null, usage?: ChatResponse["usage"], extra: Record<string, unknown> = {}): ChatResponse {
  return {
    id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "gpt-4.1",
    choices: [{ index: 0, message: { role: "assistant", content: null, ...message }, finish_reason: finish, logprobs: null, ...extra } as ChatResponse["choices"][0]],
    ...(usage ? { usage } : {}),
  } as ChatResponse;
}

const usage = (prompt: number, completionTokens: number, cached = 0, extra: Record<string, number> = {}) => ({
  prompt_tokens: prompt,
  completion_tokens: completionTokens,
  total_tokens: prompt + completionTokens,
  prompt_tokens_details: { cached_tokens: cached, ...extra },
});

describe("toMessage", () => {
  test("a text answer: the docs' Message shape, msg_ id, requested model, end_turn", () => {
    const m = toMessage(completion({ content: "Hi! My name is Claude." }, "stop", usage(2095, 503)), ctx);
    expect(m).toEqual({
      id: "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text: "Hi! My name is Claude." }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 2095, output_tokens: 503, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  test("an upstream id already in msg_ form is kept; without an upstream id the request id is used", () => {
    expect(toMessage({ ...completion({ content: "x" }, "stop"), id: "msg_01XFDUDYJgAACzvnptvVoYEL" }, ctx).id).toBe("msg_01XFDUDYJgAACzvnptvVoYEL");
    expect(toMessage({ ...completion({ content: "x" }, "stop"), id: "" }, ctx).id).toBe("msg_req_018EeWyXxfu5pfWkrYcMdjWG");
  });

  test("tool calls: text then tool_use blocks with input parsed, stop_reason tool_use; empty or invalid arguments → {}", () => {
    const m = toMessage(
      completion(
        {
          content: "I'll check the weather.",
          tool_calls: [
            { id: "toolu_01A09q90qw90lq917835lq9", type: "function", function: { name: "get_weather", arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } },
            { id: "call_2", type: "function", function: { name: "get_time", arguments: "" } },
            { id: "call_3", type: "function", function: { name: "broken", arguments: '{"a":' } },
            { id: "call_4", type: "function", function: { name: "array", arguments: "[1]" } },
          ],
        },
        "tool_calls",
        usage(478, 71),
      ),
      ctx,
    );
    expect(m.content).toEqual([
      { type: "text", text: "I'll check the weather." },
      { type: "tool_use", id: "toolu_01A09q90qw90lq917835lq9", name: "get_weather", input: { location: "San Francisco, CA", unit: "celsius" } },
      { type: "tool_use", id: "call_2", name: "get_time", input: {} },
      { type: "tool_use", id: "call_3", name: "broken", input: {} },
      { type: "tool_use", id: "call_4", name: "array", input: {} },
    ]);
    expect(m.stop_reason).toBe("tool_use");
  });

  test("tool calls with finish_reason stop (some upstreams) still end as tool_use", () => {
    const m = toMessage(completion({ tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }, "stop"), ctx);
    expect(m.content).toEqual([{ type: "tool_use", id: "c", name: "f", input: {} }]);
    expect(m.stop_reason).toBe("tool_use");
  });

  test("reasoning_content (or reasoning) → a thinking block before the text, with an empty signature", () => {
    for (const key of ["reasoning_content", "reasoning"]) {
      const m = toMessage(completion({ content: "Yes, infinitely many.", [key]: "Let me analyze this step by step..." }, "stop", usage(10, 20)), ctx);
      expect(m.content).toEqual([
        { type: "thinking", thinking: "Let me analyze this step by step...", signature: "" },
        { type: "text", text: "Yes, infinitely many." },
      ]);
    }
  });

  test("finish reasons: length → max_tokens, content_filter → refusal, null → end_turn; a matched stop sequence when the upstream names it", () => {
    expect(toMessage(completion({ content: "x" }, "length"), ctx).stop_reason).toBe("max_tokens");
    expect(toMessage(completion({ content: "x" }, "content_filter"), ctx).stop_reason).toBe("refusal");
    expect(toMessage(completion({ content: "x" }, null), ctx).stop_reason).toBe("end_turn");
    const s = toMessage(completion({ content: "x" }, "stop", undefined, { stop_sequence: "END" }), ctx);
    expect([s.stop_reason, s.stop_sequence]).toEqual(["stop_sequence", "END"]);
  });

  test("an OpenAI refusal becomes the text, stop_reason refusal", () => {
    const m = toMessage(completion({ content: null, refusal: "I can't help with that." }, "stop"), ctx);
    expect(m.content).toEqual([{ type: "text", text: "I can't help with that." }]);
    expect(m.stop_reason).toBe("refusal");
  });

  test("usage: input = prompt − cache reads − cache writes; cache fields from the upstream", () => {
    expect(toMessage(completion({ content: "x" }, "stop", usage(1000, 5, 800)), ctx).usage).toEqual({
      input_tokens: 200,
      output_tokens: 5,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 800,
    });
    expect(toMessage(completion({ content: "x" }, "stop", usage(1000, 5, 300, { cache_creation_tokens: 600 })), ctx).usage).toEqual({
      input_tokens: 100,
      output_tokens: 5,
      cache_creation_input_tokens: 600,
      cache_read_input_tokens: 300,
    });
  });

  test("no usage from the upstream: the route's input estimate and an output estimate, never all zero", () => {
    const m = toMessage(completion({ content: "Hello there, friend" }, "stop"), { ...ctx, inputTokens: 42 });
    expect(m.usage.input_tokens).toBe(42);
    expect(m.usage.output_tokens).toBeGreaterThan(0);
  });
});

describe("errorReply", () => {
  const cases: [ErrorKind, number, string][] = [
    ["bad_request", 400, "invalid_request_error"],
    ["auth", 401, "authentication_error"],
    ["permission", 403, "permission_error"],
    ["not_found", 404, "not_found_error"],
    ["too_large", 413, "request_too_large"],
    ["unprocessable", 422, "invalid_request_error"],
    ["rate_limit", 429, "rate_limit_error"],
    ["overloaded", 529, "overloaded_error"],
    ["unavailable", 529, "overloaded_error"],
    ["timeout", 504, "timeout_error"],
    ["network", 500, "api_error"],
    ["server", 500, "api_error"],
    ["cancelled", 499, "api_error"],
  ];
  for (const [kind, status, type] of cases)
    test(`${kind} → ${status} ${type}, Anthropic's body with request_id`, () => {
      const r = errorReply(new AlloyError(kind, "Something happened"), "req_011CSHoEeqs5C35K2UUqR7Fy");
      expect(r.status).toBe(status);
      expect(r.body).toEqual({ type: "error", error: { type, message: "Something happened" }, request_id: "req_011CSHoEeqs5C35K2UUqR7Fy" });
      expect(r.headers).toBeUndefined();
    });

  test("an upstream 529 classified as overloaded (AlloyError status 503) still reaches this ingress as 529", () => {
    const err = new AlloyError("overloaded", "Overloaded", { status: 503, upstreamType: "overloaded_error" });
    expect(errorReply(err, "r").status).toBe(529);
  });

  test("retry-after in whole seconds when the error carries retryAfterMs", () => {
    expect(errorReply(new AlloyError("rate_limit", "slow down", { retryAfterMs: 1500 }), "r").headers).toEqual({ "retry-after": "2" });
    expect(errorReply(new AlloyError("overloaded", "Overloaded", { retryAfterMs: 0 }), "r").headers).toEqual({ "retry-after": "0" });
  });
});

describe("estimateTokens", () => {
  const base = { model: "claude-sonnet-4-5", max_tokens: 1024 };

  test("> 0 for the smallest request; grows with text (~4 characters per token)", () => {
    const small = estimateTokens(validateMessages({ ...base, messages: [{ role: "user", content: "Hi" }] }));
    expect(small).toBeGreaterThan(0);
    const long = estimateTokens(validateMessages({ ...base, messages: [{ role: "user", content: "x".repeat(4000) }] }));
    expect(long - small).toBeGreaterThanOrEqual(990);
    expect(long - small).toBeLessThanOrEqual(1010);
  });

  test("counts system, tool schemas, tool use and results; images and PDFs at fixed costs", () => {
    const one = { role: "user", content: "Hi" };
    const n = (extra: object) => estimateTokens(validateCountTokens({ model: "m", messages: [one], ...extra }));
    const plain = n({});
    expect(n({ system: "s".repeat(400) }) - plain).toBe(100);
    expect(n({ tools: [{ name: "get_weather", input_schema: { type: "object", properties: { location: { type: "string" } } } }] })).toBeGreaterThan(plain + 10);
    const img = { type: "image", source: { type: "base64", media_type: "image/png", data: "AA==" } };
    expect(estimateTokens(validateCountTokens({ model: "m", messages: [{ role: "user", content: [img] }] }))).toBeGreaterThanOrEqual(IMAGE_TOKENS);
    const pdf = { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0x" } };
    expect(estimateTokens(validateCountTokens({ model: "m", messages: [{ role: "user", content: [pdf] }] }))).toBeGreaterThanOrEqual(PDF_PAGE_TOKENS);
    const turns = [
      { role: "user", content: "weather?" },
      { role: "assistant", content: [{ type: "tool_use", id: "t", name: "get_weather", input: { location: "x".repeat(400) } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "y".repeat(400) }] },
    ];
    expect(estimateTokens(validateCountTokens({ model: "m", messages: turns }))).toBeGreaterThan(200);
  });
});
