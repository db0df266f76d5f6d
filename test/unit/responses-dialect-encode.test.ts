// Chat answers → Responses `Response` objects, checked against the object OpenAI documents
// (https://platform.openai.com/docs/api-reference/responses/object), against the `Response` component of OpenAI's
// OpenAPI spec (github.com/openai/openai-openapi, cut into test/fixtures/openapi-responses-subset.json), and read
// back by the official `openai` SDK (`client.responses.create`).
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { AlloyError } from "../../src/errors.ts";
import { validateResponses } from "../../src/dialects/responses/decode.ts";
import { toResponse } from "../../src/dialects/responses/encode.ts";
import { errorReply } from "../../src/dialects/responses/errors.ts";
import type { ResponsesRequest } from "../../src/dialects/responses/schema.ts";
import type { ChatResponse } from "../../src/openai/schema.ts";
import { requiredFields, specErrors } from "../fixtures/openapi-check.ts";

const ctx = (request: ResponsesRequest) => ({ requestId: "req_1", model: request.model, created: 1741476542, id: "resp_67cc", request });

function chat(message: Record<string, unknown>, finish_reason: ChatResponse["choices"][0]["finish_reason"] = "stop", usage?: ChatResponse["usage"]): ChatResponse {
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1741476542,
    model: "gpt-4.1-2025-04-14",
    choices: [{ index: 0, message: { role: "assistant", content: null, ...message }, finish_reason }],
    usage: usage ?? { prompt_tokens: 36, completion_tokens: 87, total_tokens: 123, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
  } as ChatResponse;
}

describe("toResponse", () => {
  test("a text answer is the reference's example Response, field for field", () => {
    const req = validateResponses({ model: "gpt-4.1", input: "Tell me a three sentence bedtime story about a unicorn." });
    const text = "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool.";
    const r = toResponse(chat({ content: text }), ctx(req));
    // The reference's example response (abridged text), with the fields Alloy fills in the same way.
    expect(r).toEqual({
      id: "resp_67cc",
      object: "response",
      created_at: 1741476542,
      status: "completed",
      background: false,
      completed_at: null,
      error: null,
      incomplete_details: null,
      instructions: null,
      max_output_tokens: null,
      max_tool_calls: null,
      model: "gpt-4.1",
      output: [{ type: "message", id: "msg_67cc_o0", status: "completed", role: "assistant", content: [{ type: "output_text", text, annotations: [], logprobs: [] }] }],
      parallel_tool_calls: true,
      previous_response_id: null,
      prompt_cache_key: null,
      reasoning: { effort: null, summary: null },
      safety_identifier: null,
      service_tier: "default",
      store: true,
      temperature: 1,
      text: { format: { type: "text" }, verbosity: "medium" },
      tool_choice: "auto",
      tools: [],
      top_logprobs: 0,
      top_p: 1,
      truncation: "disabled",
      usage: { input_tokens: 36, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 87, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 123 },
      metadata: {},
    });
    expect(specErrors("Response", r)).toEqual([]);
  });

  test("reasoning, then text, then function calls; usage details; echoed settings", () => {
    const req = validateResponses({
      model: "o4-mini",
      instructions: "Be helpful.",
      input: "weather in Paris and Bogotá?",
      tools: [{ type: "function", name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } } } }, { type: "web_search" }],
      tool_choice: "auto",
      reasoning: { effort: "high", summary: "auto" },
      max_output_tokens: 2000,
      previous_response_id: "resp_prev",
      metadata: { k: "v" },
      store: false,
      temperature: 0.3,
    });
    const r = toResponse(
      chat(
        {
          content: "Let me check.",
          reasoning_content: "The user wants two cities.",
          tool_calls: [
            { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
            { id: "call_b", type: "function", function: { name: "get_weather", arguments: '{"location":"Bogotá"}' } },
          ],
        },
        "tool_calls",
        { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150, prompt_tokens_details: { cached_tokens: 64 }, completion_tokens_details: { reasoning_tokens: 20 } },
      ),
      { ...ctx(req), completedAt: 1741476550 },
    );
    expect(r.output).toEqual([
      { id: "rs_67cc_o0", type: "reasoning", summary: [{ type: "summary_text", text: "The user wants two cities." }] },
      { id: "msg_67cc_o1", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Let me check.", annotations: [], logprobs: [] }] },
      { id: "fc_67cc_o2", type: "function_call", status: "completed", call_id: "call_a", name: "get_weather", arguments: '{"location":"Paris"}' },
      { id: "fc_67cc_o3", type: "function_call", status: "completed", call_id: "call_b", name: "get_weather", arguments: '{"location":"Bogotá"}' },
    ]);
    expect(r.usage).toEqual({ input_tokens: 100, input_tokens_details: { cached_tokens: 64, cache_write_tokens: 0 }, output_tokens: 50, output_tokens_details: { reasoning_tokens: 20 }, total_tokens: 150 });
    expect(r.completed_at).toBe(1741476550);
    expect(r.instructions).toBe("Be helpful.");
    expect(r.previous_response_id).toBe("resp_prev");
    expect(r.reasoning).toEqual({ effort: "high", summary: "auto" });
    expect(r.max_output_tokens).toBe(2000);
    expect(r.metadata).toEqual({ k: "v" });
    expect(r.store).toBe(false);
    expect(r.temperature).toBe(0.3);
    // tools as the client sent them, function tools with the fields the schema requires
    expect(r.tools).toEqual([
      { type: "function", name: "get_weather", description: null, parameters: { type: "object", properties: { location: { type: "string" } } }, strict: null },
      { type: "web_search" },
    ]);
    expect(specErrors("Response", r)).toEqual([]);
  });

  test("tool calls alone make no empty message; `reasoning` (the other field name) is read too", () => {
    const req = validateResponses({ model: "m", input: "x" });
    const r = toResponse(chat({ reasoning: "hmm", tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] }, "tool_calls"), ctx(req));
    expect(r.output.map((o) => o.type)).toEqual(["reasoning", "function_call"]);
    expect(specErrors("Response", r)).toEqual([]);
  });

  test("finish_reason length → incomplete with max_output_tokens; refusal → a refusal part", () => {
    const req = validateResponses({ model: "m", input: "x", max_output_tokens: 16 });
    const r = toResponse(chat({ content: "Once upon a" }, "length"), ctx(req));
    expect(r.status).toBe("incomplete");
    expect(r.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(r.output[0]).toMatchObject({ type: "message", status: "incomplete" });
    expect(specErrors("Response", r)).toEqual([]);
    const refused = toResponse(chat({ content: null, refusal: "I can't help with that." }), ctx(req));
    expect(refused.output[0]).toMatchObject({ type: "message", content: [{ type: "refusal", refusal: "I can't help with that." }] });
    expect(specErrors("Response", refused)).toEqual([]);
  });

  test("an empty answer still has its message, and missing usage counts zero", () => {
    const req = validateResponses({ model: "m", input: "x" });
    const r = toResponse({ ...chat({ content: null }), usage: undefined }, ctx(req));
    expect(r.output).toEqual([{ id: "msg_67cc_o0", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "", annotations: [], logprobs: [] }] }]);
    expect(r.usage?.total_tokens).toBe(0);
  });

  test("the same inputs give the same object (ids derive from the response id)", () => {
    const req = validateResponses({ model: "m", input: "x" });
    expect(toResponse(chat({ content: "a" }), ctx(req))).toEqual(toResponse(chat({ content: "a" }), ctx(req)));
  });

  test("has every field the spec's Response requires", () => {
    const r = toResponse(chat({ content: "a" }), ctx(validateResponses({ model: "m", input: "x" })));
    for (const f of requiredFields("Response")) expect(r).toHaveProperty(f);
    for (const f of requiredFields("OutputMessage")) expect(r.output[0]).toHaveProperty(f);
    for (const f of requiredFields("ResponseUsage")) expect(r.usage).toHaveProperty(f);
  });

  test("the openai SDK's responses.create reads it (output_text, usage, function calls)", async () => {
    const req = validateResponses({ model: "gpt-4.1", input: "hi", tools: [{ type: "function", name: "f" }] });
    const body = toResponse(chat({ content: "Hello!", tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: '{"a":1}' } }] }, "tool_calls"), ctx(req));
    let sent: unknown;
    const client = new OpenAI({
      apiKey: "x",
      baseURL: "http://alloy.test/v1",
      fetch: async (_url, init) => {
        sent = JSON.parse(String(init?.body));
        return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
      },
    });
    const got = await client.responses.create({ model: "gpt-4.1", input: "hi", tools: [{ type: "function", name: "f", parameters: null, strict: null }] });
    expect((sent as { model: string }).model).toBe("gpt-4.1");
    expect(got.id).toBe("resp_67cc");
    expect(got.output_text).toBe("Hello!");
    expect(got.usage?.total_tokens).toBe(123);
    const call = got.output.find((o) => o.type === "function_call");
    expect(call).toMatchObject({ call_id: "call_1", name: "f", arguments: '{"a":1}' });
  });
});

describe("errorReply", () => {
  test("OpenAI's error body with the error's status, Retry-After on 429", () => {
    const bad = errorReply(new AlloyError("bad_request", "Invalid 'input': expected string", { param: "input" }));
    expect(bad).toEqual({ status: 400, body: { error: { message: "Invalid 'input': expected string", type: "invalid_request_error", param: "input", code: null } } });
    const limited = errorReply(new AlloyError("rate_limit", "slow down", { retryAfterMs: 1500 }));
    expect(limited.status).toBe(429);
    expect(limited.headers).toEqual({ "retry-after": "2" });
    expect((limited.body as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
  });
});
