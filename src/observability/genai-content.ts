// Prompt and answer text in the shape the OpenTelemetry GenAI conventions give `gen_ai.input.messages` and
// `gen_ai.output.messages`: messages of `{role, parts: [{type: "text", content} | {type: "tool_call", id, name,
// arguments} | {type: "tool_call_response", id, response}]}`. Used only with `capture_content = true`.
import { contentText, type ChatMessage } from "../openai/schema.ts";

type Part =
  | { type: "text"; content: string }
  | { type: "tool_call"; id?: string; name?: string; arguments?: unknown }
  | { type: "tool_call_response"; id?: string; response: unknown };

interface GenAiMessage {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

interface ToolCallLike {
  id?: string;
  name?: string;
  function?: { name?: string; arguments?: string };
  arguments?: string;
}

function toolCallParts(calls: unknown): Part[] {
  if (!Array.isArray(calls)) return [];
  return calls.map((c: ToolCallLike) => ({
    type: "tool_call" as const,
    id: c.id,
    name: c.function?.name ?? c.name,
    arguments: c.function?.arguments ?? c.arguments,
  }));
}

/** The unified request's messages, as `gen_ai.input.messages`. */
export function inputMessages(messages: readonly ChatMessage[]): GenAiMessage[] {
  return messages.map((m) => {
    if (m.role === "tool") return { role: "tool", parts: [{ type: "tool_call_response", id: m.tool_call_id, response: contentText(m.content) }] };
    const parts: Part[] = [];
    const text = contentText(m.content);
    if (text) parts.push({ type: "text", content: text });
    if (m.role === "assistant") parts.push(...toolCallParts((m as { tool_calls?: unknown }).tool_calls));
    return { role: m.role === "developer" ? "system" : m.role, parts };
  });
}

/** The answer (a unified assistant message, or one assembled from a stream), as `gen_ai.output.messages`. */
export function outputMessages(message: unknown, finishReason: string | null | undefined): GenAiMessage[] {
  const m = (message ?? {}) as { content?: unknown; tool_calls?: unknown };
  const parts: Part[] = [];
  const text = contentText(m.content);
  if (text) parts.push({ type: "text", content: text });
  parts.push(...toolCallParts(m.tool_calls));
  const out: GenAiMessage = { role: "assistant", parts };
  if (finishReason) out.finish_reason = finishReason;
  return [out];
}
