// Chat chunks → Responses stream events, in the order OpenAI's streaming reference documents them
// (https://platform.openai.com/docs/api-reference/responses-streaming; text: created, in_progress,
// output_item.added, content_part.added, output_text.delta…, output_text.done, content_part.done, output_item.done,
// completed), each event checked against the spec's ResponseStreamEvent, and the SSE bytes read by the openai SDK.
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { AlloyError } from "../../src/errors.ts";
import { validateResponses } from "../../src/dialects/responses/decode.ts";
import { toResponse } from "../../src/dialects/responses/encode.ts";
import { finalResponse, initStream, responsesStream } from "../../src/dialects/responses/stream.ts";
import type { SseEvent } from "../../src/dialects/dialect.ts";
import type { ChatChunk, ChatResponse } from "../../src/openai/schema.ts";
import { specErrors } from "../fixtures/openapi-check.ts";

type Delta = ChatChunk["choices"][0]["delta"] & { reasoning_content?: string };
const chunk = (delta: Delta, finish_reason: ChatChunk["choices"][0]["finish_reason"] = null): ChatChunk => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4.1",
  choices: [{ index: 0, delta, finish_reason }],
});
const usageChunk = (prompt: number, completion: number): ChatChunk => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4.1",
  choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
});

function run(body: Record<string, unknown>, chunks: ChatChunk[], end: "finish" | AlloyError = "finish") {
  const request = validateResponses({ model: "gpt-4.1", input: "hi", stream: true, ...body });
  const { state, events } = initStream({ requestId: "req_1", model: request.model, created: 1700000000, id: "resp_s1", request });
  for (const c of chunks) events.push(...responsesStream.step(state, c));
  events.push(...(end === "finish" ? responsesStream.finish(state) : responsesStream.fail(state, end)));
  return { events, state, request };
}

const types = (events: SseEvent[]) => events.map((e) => e.event);
const data = (e: SseEvent) => e.data as Record<string, unknown> & { type: string; sequence_number: number };
const sseBytes = (events: SseEvent[]) => events.map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`).join("");

function checkInvariants(events: SseEvent[]): void {
  events.forEach((e, i) => {
    expect(data(e).sequence_number).toBe(i);
    expect(data(e).type).toBe(e.event!);
    expect(specErrors("ResponseStreamEvent", e.data)).toEqual([]);
  });
  const terminals = events.filter((e) => /^response\.(completed|incomplete|failed)$/.test(e.event!));
  expect(terminals.length).toBe(1);
  expect(events.at(-1)).toBe(terminals[0]!);
  expect(events.some((e) => e.event === "error")).toBe(false);
}

describe("stream encoder", () => {
  test("a text answer: the documented event order, indices and a completed response with usage", () => {
    const { events, state } = run({}, [chunk({ role: "assistant", content: "" }), chunk({ content: "Hi" }), chunk({ content: " there" }), chunk({}, "stop"), usageChunk(9, 2)]);
    expect(types(events)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    checkInvariants(events);
    expect(data(events[0]!).response).toMatchObject({ id: "resp_s1", status: "in_progress", output: [] });
    for (const e of events.slice(2, -1)) expect(data(e)).toMatchObject({ output_index: 0 });
    for (const e of events.slice(3, -2)) expect(data(e)).toMatchObject({ item_id: "msg_s1_o0", content_index: 0 });
    expect(data(events[6]!).text).toBe("Hi there");
    const done = data(events.at(-1)!).response as ReturnType<typeof finalResponse>;
    expect(done.status).toBe("completed");
    expect(done.output).toEqual([{ id: "msg_s1_o0", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Hi there", annotations: [], logprobs: [] }] }]);
    expect(done.usage).toEqual({ input_tokens: 9, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 });
    expect(finalResponse(state)).toBe(done);
  });

  test("reasoning, text, then two tool calls: one item after another, the summary events for reasoning", () => {
    const { events } = run(
      { tools: [{ type: "function", name: "get_weather" }] },
      [
        chunk({ role: "assistant", reasoning_content: "Two " }),
        chunk({ reasoning_content: "cities." }),
        chunk({ content: "Checking." }),
        chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "get_weather", arguments: '{"location":"Bogotá"}' } }] }),
        chunk({}, "tool_calls"),
        usageChunk(50, 30),
      ],
    );
    expect(types(events)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    checkInvariants(events);
    const added = events.filter((e) => e.event === "response.output_item.added").map((e) => [data(e).output_index, (data(e).item as { id: string }).id]);
    expect(added).toEqual([
      [0, "rs_s1_o0"],
      [1, "msg_s1_o1"],
      [2, "fc_s1_o2"],
      [3, "fc_s1_o3"],
    ]);
    expect(data(events[18]!)).toMatchObject({ item_id: "fc_s1_o2", output_index: 2, name: "get_weather", arguments: '{"location":"Paris"}' });
    const final = data(events.at(-1)!).response as ReturnType<typeof finalResponse>;
    expect(final.output.map((o) => o.type)).toEqual(["reasoning", "message", "function_call", "function_call"]);
    expect(final.output[0]).toEqual({ id: "rs_s1_o0", type: "reasoning", summary: [{ type: "summary_text", text: "Two cities." }] });
    expect(final.output[3]).toEqual({ id: "fc_s1_o3", type: "function_call", status: "completed", call_id: "call_b", name: "get_weather", arguments: '{"location":"Bogotá"}' });
  });

  test("the streamed final response equals toResponse of the same answer", () => {
    const { events } = run({}, [chunk({ role: "assistant", reasoning_content: "r" }), chunk({ content: "a" }), chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] }), chunk({}, "tool_calls"), usageChunk(3, 4)]);
    const request = validateResponses({ model: "gpt-4.1", input: "hi", stream: true });
    const whole: ChatResponse = {
      id: "x",
      object: "chat.completion",
      created: 1,
      model: "gpt-4.1",
      choices: [{ index: 0, message: { role: "assistant", content: "a", reasoning_content: "r", tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] } as never, finish_reason: "tool_calls" }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    };
    expect(data(events.at(-1)!).response).toEqual(toResponse(whole, { requestId: "req_1", model: "gpt-4.1", created: 1700000000, id: "resp_s1", request }));
  });

  test("finish_reason length ends with response.incomplete (max_output_tokens), the message incomplete", () => {
    const { events } = run({ max_output_tokens: 16 }, [chunk({ content: "Once upon" }), chunk({}, "length"), usageChunk(5, 16)]);
    checkInvariants(events);
    const last = data(events.at(-1)!);
    expect(last.type).toBe("response.incomplete");
    expect(last.response).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, usage: { output_tokens: 16 } });
    expect(data(events.at(-2)!)).toMatchObject({ type: "response.output_item.done", item: { status: "incomplete" } });
  });

  test("a failure mid-stream is one response.failed (rate_limit_exceeded / server_error), no error event", () => {
    const limited = run({}, [chunk({ content: "par" })], new AlloyError("rate_limit", "Rate limit reached"));
    checkInvariants(limited.events);
    expect(types(limited.events).slice(-2)).toEqual(["response.output_text.delta", "response.failed"]);
    expect(data(limited.events.at(-1)!).response).toMatchObject({
      status: "failed",
      error: { code: "rate_limit_exceeded", message: "Rate limit reached" },
      output: [{ type: "message", status: "incomplete", content: [{ type: "output_text", text: "par" }] }],
    });
    const broken = run({}, [], new AlloyError("server", "upstream stream ended early"));
    checkInvariants(broken.events);
    expect(data(broken.events.at(-1)!).response).toMatchObject({ status: "failed", error: { code: "server_error" } });
    expect(finalResponse(broken.state).status).toBe("failed");
  });

  test("chunks without choices are skipped; nothing follows the terminal event", () => {
    const request = validateResponses({ model: "m", input: "hi", stream: true });
    const { state } = initStream({ requestId: "r", model: "m", created: 1, id: "resp_x", request });
    expect(responsesStream.step(state, { ...usageChunk(1, 1), usage: undefined })).toEqual([]);
    expect(responsesStream.step(state, { id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [], prompt_filter_results: [] } as ChatChunk)).toEqual([]);
    const end = responsesStream.finish(state);
    // an empty answer still opens and closes its message
    expect(types(end)).toEqual(["response.output_item.added", "response.content_part.added", "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
    expect(responsesStream.step(state, chunk({ content: "late" }))).toEqual([]);
    expect(responsesStream.finish(state)).toEqual([]);
    expect(responsesStream.fail(state, new AlloyError("server", "x"))).toEqual([]);
  });

  test("a refusal streams as a refusal part", () => {
    const { events } = run({}, [chunk({ refusal: "I can't " }), chunk({ refusal: "help." }), chunk({}, "stop")]);
    checkInvariants(events);
    expect(types(events).slice(2, -1)).toEqual([
      "response.output_item.added",
      "response.content_part.added",
      "response.refusal.delta",
      "response.refusal.delta",
      "response.refusal.done",
      "response.content_part.done",
      "response.output_item.done",
    ]);
    expect(data(events.at(-1)!).response).toMatchObject({ output: [{ content: [{ type: "refusal", refusal: "I can't help." }] }] });
  });

  test("the openai SDK's responses.stream reads the bytes: deltas, then finalResponse()", async () => {
    const { events } = run({ tools: [{ type: "function", name: "f" }] }, [
      chunk({ role: "assistant", reasoning_content: "think" }),
      chunk({ content: "Hello" }),
      chunk({ content: " world" }),
      chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: '{"a"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }),
      chunk({}, "tool_calls"),
      usageChunk(12, 7),
    ]);
    const bytes = sseBytes(events);
    const client = new OpenAI({
      apiKey: "x",
      baseURL: "http://alloy.test/v1",
      fetch: async () => new Response(bytes, { headers: { "content-type": "text/event-stream" } }),
    });
    const stream = client.responses.stream({ model: "gpt-4.1", input: "hi", tools: [{ type: "function", name: "f", parameters: null, strict: null }] });
    const seen: string[] = [];
    let text = "";
    stream.on("response.output_text.delta", (e) => (text += e.delta));
    for await (const e of stream) seen.push(e.type);
    const final = await stream.finalResponse();
    expect(seen).toEqual(types(events) as string[]);
    expect(text).toBe("Hello world");
    expect(final.id).toBe("resp_s1");
    expect(final.status).toBe("completed");
    expect(final.output_text).toBe("Hello world");
    expect(final.output.find((o) => o.type === "function_call")).toMatchObject({ call_id: "call_1", name: "f", arguments: '{"a":1}' });
    expect(final.usage?.total_tokens).toBe(19);
  });
});
