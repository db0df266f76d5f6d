// Unified chunks (OpenAI chat.completion.chunk) → Anthropic Messages stream events, as a state machine: `step` per
// chunk, then `finish` or `fail`. No I/O, no clock. Event order as Anthropic documents it
// (https://docs.claude.com/en/docs/build-with-claude/streaming): message_start (empty content, non-zero input usage),
// ping, then per content block content_block_start / content_block_delta… / content_block_stop with indexes 0, 1, …
// (a block closes before the next opens), then message_delta (stop_reason, cumulative usage), message_stop.
//
// OpenAI upstreams send usage in an extra chunk with `choices: []` AFTER the finish_reason chunk, so message_delta
// waits for the usage (or for the end of the stream), not for finish_reason.
import type { AlloyError } from "../../errors.ts";
import type { ChatChunk, FinishReason, ToolCallDelta, Usage } from "../../openai/schema.ts";
import type { SseEvent, StreamEncoder } from "../dialect.ts";
import { estimatedUsage, matchedStop, messageId, reasoningText, stopReason, toMessageUsage } from "./encode.ts";
import { errorBody } from "./errors.ts";
import type { AnthropicMessage, MessageUsage } from "./schema.ts";

export interface StreamInit {
  requestId: string;
  /** The model name the client asked for. */
  model: string;
  /** Unix seconds (kept for symmetry with the other dialects; Anthropic events carry no timestamps). */
  created: number;
  /** estimateTokens() of the request: message_start's input_tokens until the upstream reports the real count. */
  inputTokens: number;
}

type OpenBlock = { index: number; kind: "text" | "thinking" | "tool" };

export interface StreamState {
  requestId: string;
  model: string;
  inputTokens: number;
  id: string;
  started: boolean;
  /** The next content block index. */
  next: number;
  open: OpenBlock | null;
  /** OpenAI tool-call index → the content block index it streams into. */
  toolBlocks: Record<number, number>;
  finish: FinishReason | null;
  stopSequence: string | null;
  usage: Usage | null;
  /** Characters of text, thinking and arguments sent: the output estimate when no usage comes. */
  outChars: number;
  deltaSent: boolean;
  /** message_stop or error went out: nothing more may follow. */
  ended: boolean;
}

export function initStream(o: StreamInit): StreamState {
  return {
    requestId: o.requestId,
    model: o.model,
    inputTokens: Math.max(1, Math.round(o.inputTokens)),
    id: "",
    started: false,
    next: 0,
    open: null,
    toolBlocks: {},
    finish: null,
    stopSequence: null,
    usage: null,
    outChars: 0,
    deltaSent: false,
    ended: false,
  };
}

const ev = (type: string, data: object = {}): SseEvent => ({ event: type, data: { type, ...data } });

function start(s: StreamState, chunk: ChatChunk | undefined, out: SseEvent[]): void {
  s.started = true;
  s.id = messageId(chunk?.id, s.requestId);
  // Clients reject an all-zero usage: the estimate stands in until the upstream's own count arrives.
  const real = chunk?.usage && chunk.usage.prompt_tokens > 0 ? toMessageUsage(chunk.usage) : undefined;
  const usage: MessageUsage = {
    input_tokens: real ? real.input_tokens : s.inputTokens,
    output_tokens: 1,
    cache_creation_input_tokens: real?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: real?.cache_read_input_tokens ?? 0,
  };
  const message: AnthropicMessage = { id: s.id, type: "message", role: "assistant", model: s.model, content: [], stop_reason: null, stop_sequence: null, usage };
  out.push(ev("message_start", { message }), ev("ping"));
}

function close(s: StreamState, out: SseEvent[]): void {
  if (!s.open) return;
  out.push(ev("content_block_stop", { index: s.open.index }));
  s.open = null;
}

/** The open block if it is of this kind, else close it and open a new one. */
function ensure(s: StreamState, kind: "text" | "thinking", out: SseEvent[]): number {
  if (s.open?.kind === kind) return s.open.index;
  close(s, out);
  const index = s.next++;
  s.open = { index, kind };
  out.push(ev("content_block_start", { index, content_block: kind === "text" ? { type: "text", text: "" } : { type: "thinking", thinking: "", signature: "" } }));
  return index;
}

function toolDelta(s: StreamState, d: ToolCallDelta, out: SseEvent[]): void {
  let index = s.toolBlocks[d.index];
  if (index === undefined) {
    close(s, out);
    index = s.next++;
    s.toolBlocks[d.index] = index;
    s.open = { index, kind: "tool" };
    const id = d.id || `toolu_${s.requestId.replace(/[^A-Za-z0-9_-]/g, "")}_${d.index}`;
    out.push(ev("content_block_start", { index, content_block: { type: "tool_use", id, name: d.function?.name ?? "", input: {} } }));
  }
  // Upstreams stream one tool call after another. A fragment for a call whose block is already closed (interleaved
  // calls) still goes to that call's index: losing it would corrupt the arguments, and the SDKs accumulate by index.
  const args = d.function?.arguments;
  if (args) {
    s.outChars += args.length;
    out.push(ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: args } }));
  }
}

function messageDelta(s: StreamState): SseEvent {
  s.deltaSent = true;
  const tools = Object.keys(s.toolBlocks).length > 0;
  const stop_reason = stopReason(s.finish, tools, s.stopSequence);
  const usage = s.usage ? toMessageUsage(s.usage) : estimatedUsage(s.inputTokens, s.outChars);
  return ev("message_delta", { delta: { stop_reason, stop_sequence: stop_reason === "stop_sequence" ? s.stopSequence : null }, usage });
}

export function step(s: StreamState, chunk: ChatChunk): SseEvent[] {
  const out: SseEvent[] = [];
  if (s.ended) return out;
  if (!s.started) start(s, chunk, out);
  // Chunks without choices (the usage chunk, keep-alives of some upstreams) carry no content; only choice 0 is read,
  // since a Messages answer has one.
  const choice = s.deltaSent ? undefined : chunk.choices?.find((c) => c.index === 0);
  if (choice) {
    const d = choice.delta ?? {};
    const thinking = reasoningText(d);
    if (thinking) {
      s.outChars += thinking.length;
      out.push(ev("content_block_delta", { index: ensure(s, "thinking", out), delta: { type: "thinking_delta", thinking } }));
    }
    const text = (d.content ?? "") + (d.refusal ?? "");
    if (text) {
      s.outChars += text.length;
      out.push(ev("content_block_delta", { index: ensure(s, "text", out), delta: { type: "text_delta", text } }));
    }
    for (const t of d.tool_calls ?? []) toolDelta(s, t, out);
    if (choice.finish_reason) {
      s.finish = choice.finish_reason;
      s.stopSequence = matchedStop(choice);
      close(s, out);
    }
  }
  if (chunk.usage) s.usage = chunk.usage;
  if (s.finish && s.usage && !s.deltaSent) out.push(messageDelta(s));
  return out;
}

/** The upstream stream completed: close what is open, then message_delta (if still owed) and message_stop. */
export function finish(s: StreamState): SseEvent[] {
  if (s.ended) return [];
  const out: SseEvent[] = [];
  if (!s.started) start(s, undefined, out);
  close(s, out);
  if (!s.deltaSent) out.push(messageDelta(s));
  out.push(ev("message_stop"));
  s.ended = true;
  return out;
}

/** The stream broke after the first event went out: one `error` event with Anthropic's error body, no message_stop. */
export function fail(s: StreamState, err: AlloyError): SseEvent[] {
  if (s.ended) return [];
  s.ended = true;
  return [{ event: "error", data: errorBody(err, s.requestId) }];
}

export const encoder: StreamEncoder<StreamState> = { step, finish, fail };
