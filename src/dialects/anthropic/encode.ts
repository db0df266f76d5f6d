// The unified answer (OpenAI chat.completion) → an Anthropic Messages answer, per translation.md "Back". Shared with
// stream.ts: stop reasons, usage, tool input parsing and message ids.
import type { EncodeContext } from "../dialect.ts";
import type { ChatResponse, FinishReason, Usage } from "../../openai/schema.ts";
import type { AnthropicMessage, MessageUsage, OutBlock, StopReason } from "./schema.ts";

/** finish_reason → stop_reason. Tool calls win over a plain `stop` (some upstreams say stop after calling tools). */
export function stopReason(finish: FinishReason | null | undefined, toolCalls: boolean, stopSequence: string | null): StopReason {
  if (toolCalls || finish === "tool_calls" || finish === "function_call") return "tool_use";
  switch (finish) {
    case "length":
      return "max_tokens";
    case "content_filter":
      return "refusal";
    default:
      return stopSequence !== null ? "stop_sequence" : "end_turn";
  }
}

/**
 * Cache writes are not part of OpenAI's usage; OpenAI-compatible upstreams report them under several names
 * (`prompt_tokens_details.cache_creation_tokens`, OpenRouter's `cache_write_tokens`, LiteLLM's
 * `cache_creation_input_tokens`). Zero when none is present.
 */
function cacheWrites(u: Usage): number {
  const d = u.prompt_tokens_details as Record<string, unknown> | undefined;
  for (const v of [d?.cache_creation_tokens, d?.cache_write_tokens, (u as Record<string, unknown>).cache_creation_input_tokens])
    if (typeof v === "number" && v > 0) return v;
  return 0;
}

/** Anthropic counts input apart from cache reads and writes; OpenAI's prompt_tokens includes both. */
export function toMessageUsage(u: Usage): MessageUsage {
  const read = u.prompt_tokens_details?.cached_tokens ?? 0;
  const write = cacheWrites(u);
  return {
    input_tokens: Math.max(0, u.prompt_tokens - read - write),
    output_tokens: u.completion_tokens,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
  };
}

/** Usage for an upstream that reported none: the route's input estimate and ~4 characters per output token. */
export function estimatedUsage(inputTokens: number, outputChars: number): MessageUsage {
  return { input_tokens: inputTokens, output_tokens: Math.ceil(outputChars / 4), cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

/** A tool call's JSON arguments → Anthropic's `input` object; empty, invalid or non-object arguments read as `{}`. */
export function toolInput(args: string | undefined): Record<string, unknown> {
  if (!args?.trim()) return {};
  try {
    const v: unknown = JSON.parse(args);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** `msg_…` from the upstream id (kept when it already is one) or, without one, the gateway's request id. */
export function messageId(upstreamId: string | undefined, requestId: string): string {
  if (upstreamId?.startsWith("msg_")) return upstreamId;
  const core = (upstreamId ?? "").replace(/^chatcmpl-/, "").replace(/[^A-Za-z0-9_-]/g, "") || requestId.replace(/[^A-Za-z0-9_-]/g, "");
  return `msg_${core}`;
}

/** Reasoning text as OpenAI-compatible upstreams send it: `reasoning_content` (DeepSeek, vLLM) or `reasoning` (OpenRouter, Ollama). */
export function reasoningText(m: object): string {
  const r = m as { reasoning_content?: unknown; reasoning?: unknown };
  if (typeof r.reasoning_content === "string") return r.reasoning_content;
  return typeof r.reasoning === "string" ? r.reasoning : "";
}

/** The upstream's matched stop sequence, where one says which (an optional `stop_sequence` on the choice). */
export function matchedStop(choice: object | undefined): string | null {
  const s = (choice as { stop_sequence?: unknown } | undefined)?.stop_sequence;
  return typeof s === "string" ? s : null;
}

/**
 * `ctx.inputTokens` (the route's estimate) stands in only when the upstream reported no usage.
 * Blocks: thinking (no signature exists off Anthropic: `signature: ""`, so the block type-checks in the SDKs; such a block is
 * dropped, not sent back, when the history returns to a non-Anthropic target) → text → tool_use blocks.
 */
export function toMessage(res: ChatResponse, ctx: EncodeContext & { inputTokens?: number }): AnthropicMessage {
  const choice = res.choices[0];
  const m = choice?.message;
  const content: OutBlock[] = [];
  const thinking = m ? reasoningText(m) : "";
  if (thinking) content.push({ type: "thinking", thinking, signature: "" });
  const text = (m?.content ?? "") || (m?.refusal ?? "");
  if (text) content.push({ type: "text", text });
  for (const c of m?.tool_calls ?? []) content.push({ type: "tool_use", id: c.id, name: c.function.name, input: toolInput(c.function.arguments) });
  const stop = matchedStop(choice);
  const reason = stopReason(choice?.finish_reason, (m?.tool_calls?.length ?? 0) > 0, stop);
  return {
    id: messageId(res.id, ctx.requestId),
    type: "message",
    role: "assistant",
    model: ctx.model,
    content,
    stop_reason: !m?.content && m?.refusal ? "refusal" : reason,
    stop_sequence: reason === "stop_sequence" ? stop : null,
    usage: res.usage ? toMessageUsage(res.usage) : estimatedUsage(ctx.inputTokens ?? 0, JSON.stringify(content).length),
  };
}
