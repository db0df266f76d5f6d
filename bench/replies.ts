// What the bench upstream answers, built once at startup so the mock costs the same for every target and never
// becomes the bottleneck: byte-exact OpenAI Chat Completions JSON/SSE, OpenAI Responses JSON/SSE, Anthropic JSON/SSE
// and Bedrock Converse JSON/eventstream.
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";

/** Text deltas per streamed answer (plus the role, finish and usage events around them). */
export const STREAM_TOKENS = 50;

const enc = new TextEncoder();
const TOKENS = Array.from({ length: STREAM_TOKENS }, (_, i) => (i === 0 ? "Benchmark" : ` token${i}`));
const TEXT = TOKENS.join("");
const USAGE = { prompt: 42, completion: STREAM_TOKENS };

export interface Reply {
  contentType: string;
  /** One entry for a JSON answer; one per event for a stream (each written separately, like a model emitting tokens). */
  parts: Uint8Array[];
}

function openaiJson(): Reply {
  const body = {
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "gpt-bench",
    choices: [{ index: 0, message: { role: "assistant", content: TEXT, refusal: null, annotations: [] }, logprobs: null, finish_reason: "stop" }],
    usage: {
      prompt_tokens: USAGE.prompt,
      completion_tokens: USAGE.completion,
      total_tokens: USAGE.prompt + USAGE.completion,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: "default",
    system_fingerprint: "fp_bench",
  };
  return { contentType: "application/json", parts: [enc.encode(JSON.stringify(body))] };
}

function openaiSse(): Reply {
  const base = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1_700_000_000, model: "gpt-bench", service_tier: "default", system_fingerprint: "fp_bench" };
  const chunk = (delta: object, finish: string | null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null });
  const events: object[] = [chunk({ role: "assistant", content: "", refusal: null }, null)];
  for (const t of TOKENS) events.push(chunk({ content: t }, null));
  events.push(chunk({}, "stop"));
  events.push({ ...base, choices: [], usage: { prompt_tokens: USAGE.prompt, completion_tokens: USAGE.completion, total_tokens: USAGE.prompt + USAGE.completion } });
  const parts = events.map((e) => enc.encode(`data: ${JSON.stringify(e)}\n\n`));
  parts.push(enc.encode("data: [DONE]\n\n"));
  return { contentType: "text/event-stream; charset=utf-8", parts };
}

const ANTHROPIC_MESSAGE = { id: "msg_bench", type: "message", role: "assistant", model: "claude-bench" };

function anthropicJson(): Reply {
  const body = {
    ...ANTHROPIC_MESSAGE,
    content: [{ type: "text", text: TEXT }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: USAGE.prompt, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: USAGE.completion },
  };
  return { contentType: "application/json", parts: [enc.encode(JSON.stringify(body))] };
}

function anthropicSse(): Reply {
  const ev = (type: string, data: object) => enc.encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const parts = [
    ev("message_start", {
      message: { ...ANTHROPIC_MESSAGE, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: USAGE.prompt, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } },
    }),
    ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    ev("ping", {}),
    ...TOKENS.map((t) => ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: t } })),
    ev("content_block_stop", { index: 0 }),
    ev("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: USAGE.completion } }),
    ev("message_stop", {}),
  ];
  return { contentType: "text/event-stream; charset=utf-8", parts };
}

function bedrockJson(): Reply {
  const body = {
    output: { message: { role: "assistant", content: [{ text: TEXT }] } },
    stopReason: "end_turn",
    usage: { inputTokens: USAGE.prompt, outputTokens: USAGE.completion, totalTokens: USAGE.prompt + USAGE.completion },
    metrics: { latencyMs: 1 },
  };
  return { contentType: "application/json", parts: [enc.encode(JSON.stringify(body))] };
}

function bedrockEventStream(): Reply {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  // Bedrock pads every event body with a "p" field so lengths do not leak content; the SDK ignores it.
  const frame = (eventType: string, body: object) =>
    codec.encode({
      headers: {
        ":event-type": { type: "string", value: eventType },
        ":content-type": { type: "string", value: "application/json" },
        ":message-type": { type: "string", value: "event" },
      },
      body: fromUtf8(JSON.stringify({ ...body, p: "abcdefghijklmnop" })),
    });
  const parts = [
    frame("messageStart", { role: "assistant" }),
    ...TOKENS.map((t) => frame("contentBlockDelta", { contentBlockIndex: 0, delta: { text: t } })),
    frame("contentBlockStop", { contentBlockIndex: 0 }),
    frame("messageStop", { stopReason: "end_turn" }),
    frame("metadata", {
      usage: { inputTokens: USAGE.prompt, outputTokens: USAGE.completion, totalTokens: USAGE.prompt + USAGE.completion },
      metrics: { latencyMs: 1 },
    }),
  ];
  return { contentType: "application/vnd.amazon.eventstream", parts };
}

const RESPONSE_BASE = { id: "resp_bench", object: "response", created_at: 1_700_000_000, model: "gpt-bench", parallel_tool_calls: true, tools: [], tool_choice: "auto", temperature: 0.7, top_p: 1, max_output_tokens: 256, previous_response_id: null, reasoning: { effort: null, summary: null }, text: { format: { type: "text" } }, truncation: "disabled", store: false, metadata: {}, error: null, incomplete_details: null, instructions: null, user: "bench-user-42" };
const RESPONSE_ITEM = { id: "msg_bench", type: "message", status: "completed", role: "assistant" };
const RESPONSE_USAGE = { input_tokens: USAGE.prompt, input_tokens_details: { cached_tokens: 0 }, output_tokens: USAGE.completion, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: USAGE.prompt + USAGE.completion };
const outputText = (text: string) => ({ type: "output_text", text, annotations: [], logprobs: [] });

/** An OpenAI Responses answer (POST /v1/responses without stream). */
function responsesJson(): Reply {
  const body = { ...RESPONSE_BASE, status: "completed", output: [{ ...RESPONSE_ITEM, content: [outputText(TEXT)] }], usage: RESPONSE_USAGE };
  return { contentType: "application/json", parts: [enc.encode(JSON.stringify(body))] };
}

/** An OpenAI Responses stream: created, in_progress, the item and part opened, one text delta per token, all closed, completed. */
function responsesSse(): Reply {
  let seq = 0;
  const ev = (type: string, data: object) => enc.encode(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
  const at = { item_id: RESPONSE_ITEM.id, output_index: 0, content_index: 0 };
  const pending = { ...RESPONSE_BASE, status: "in_progress", output: [], usage: null };
  const item = { ...RESPONSE_ITEM, content: [outputText(TEXT)] };
  const parts = [
    ev("response.created", { response: pending }),
    ev("response.in_progress", { response: pending }),
    ev("response.output_item.added", { output_index: 0, item: { ...RESPONSE_ITEM, status: "in_progress", content: [] } }),
    ev("response.content_part.added", { ...at, part: outputText("") }),
    ...TOKENS.map((t) => ev("response.output_text.delta", { ...at, delta: t, logprobs: [] })),
    ev("response.output_text.done", { ...at, text: TEXT, logprobs: [] }),
    ev("response.content_part.done", { ...at, part: outputText(TEXT) }),
    ev("response.output_item.done", { output_index: 0, item }),
    ev("response.completed", { response: { ...RESPONSE_BASE, status: "completed", output: [item], usage: RESPONSE_USAGE } }),
  ];
  return { contentType: "text/event-stream; charset=utf-8", parts };
}

/** text-embedding-3-small's answer to the bench's eight passages at 256 dimensions. */
function openaiEmbeddings(): Reply {
  const data = Array.from({ length: 8 }, (_, index) => ({
    object: "embedding",
    index,
    embedding: Array.from({ length: 256 }, (_, i) => Math.fround(Math.sin(index * 31 + i) / 16)),
  }));
  const body = { object: "list", data, model: "text-embedding-3-small", usage: { prompt_tokens: 160, total_tokens: 160 } };
  return { contentType: "application/json", parts: [enc.encode(JSON.stringify(body))] };
}

export const replies = {
  openaiEmbeddings: openaiEmbeddings(),
  openaiJson: openaiJson(),
  openaiSse: openaiSse(),
  responsesJson: responsesJson(),
  responsesSse: responsesSse(),
  anthropicJson: anthropicJson(),
  anthropicSse: anthropicSse(),
  bedrockJson: bedrockJson(),
  bedrockEventStream: bedrockEventStream(),
};
