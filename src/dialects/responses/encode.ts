// Unified chat answer → Responses `Response` object (https://platform.openai.com/docs/api-reference/responses/object).
// The object echoes the request's settings the way OpenAI does (defaults filled in), so clients that read them back
// (the Agents SDK keeps `previous_response_id` chains, Codex reads `usage`) see what they would see at OpenAI.
import type { ChatResponse, FinishReason, Usage } from "../../openai/schema.ts";
import type { EncodeContext } from "../dialect.ts";
import { ItemIds } from "./ids.ts";
import type { OutputItem, OutputMessage, ResponseObject, ResponseUsage, ResponsesRequest, ToolParam } from "./schema.ts";
import { customInput, type ToolNames } from "./tools.ts";

export interface ResponseContext extends EncodeContext {
  /** `resp_…`, chosen by the route. */
  id: string;
  request: ResponsesRequest;
  /** Unix seconds when the answer was complete, when the route knows it. */
  completedAt?: number;
  /** Flattened tool names to map back (namespace members, custom tools), from the decoder. */
  tools?: ToolNames;
}

/** A chat tool call as its Responses output item: a function call, or the custom / namespaced tool it stands for. */
export function callItem(
  ctx: ResponseContext,
  id: (prefix: "fc" | "ctc") => string,
  call: { call_id: string; name: string; arguments: string },
  status: "in_progress" | "completed",
): Extract<OutputItem, { type: "function_call" | "custom_tool_call" }> {
  const origin = ctx.tools?.get(call.name);
  const ns = origin?.namespace !== undefined ? { namespace: origin.namespace } : {};
  if (origin?.custom)
    return { id: id("ctc"), type: "custom_tool_call", status, call_id: call.call_id, name: origin.name, ...ns, input: status === "completed" ? customInput(call.arguments) : "" };
  return { id: id("fc"), type: "function_call", status, call_id: call.call_id, name: origin?.name ?? call.name, ...ns, arguments: call.arguments };
}

/** Tools as the Response object lists them: function tools with every field the schema requires. */
function echoTool(t: ToolParam): unknown {
  if (t.type !== "function") return t;
  const f = t as Extract<ToolParam, { type: "function" }>;
  return { ...f, description: f.description ?? null, parameters: f.parameters ?? null, strict: f.strict ?? null };
}

/** The Response object with no output yet: status and settings. */
export function responseShell(ctx: ResponseContext, status: ResponseObject["status"]): ResponseObject {
  const r = ctx.request;
  return {
    id: ctx.id,
    object: "response",
    created_at: ctx.created,
    status,
    background: false,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: r.instructions ?? null,
    max_output_tokens: r.max_output_tokens ?? null,
    max_tool_calls: r.max_tool_calls ?? null,
    model: ctx.model,
    output: [],
    parallel_tool_calls: r.parallel_tool_calls ?? true,
    previous_response_id: r.previous_response_id ?? null,
    prompt_cache_key: r.prompt_cache_key ?? null,
    reasoning: { effort: r.reasoning?.effort ?? null, summary: r.reasoning?.summary ?? null },
    safety_identifier: r.safety_identifier ?? null,
    service_tier: r.service_tier ?? "default",
    store: r.store ?? true,
    temperature: r.temperature ?? 1,
    text: { format: r.text?.format ?? { type: "text" }, verbosity: r.text?.verbosity ?? "medium" },
    tool_choice: r.tool_choice ?? "auto",
    tools: (r.tools ?? []).map(echoTool),
    top_logprobs: r.top_logprobs ?? 0,
    top_p: r.top_p ?? 1,
    truncation: r.truncation ?? "disabled",
    // OpenAI answers `user: null`, but its schema types `user` as a string: absent when the client sent none.
    ...(r.user !== undefined ? { user: r.user } : {}),
    metadata: r.metadata ?? {},
  };
}

/** Chat usage → Responses usage; counts a target did not report are 0. */
export function usageOf(u: Usage | null | undefined): ResponseUsage {
  const details = u?.prompt_tokens_details as { cached_tokens?: number; cache_write_tokens?: number } | undefined;
  return {
    input_tokens: u?.prompt_tokens ?? 0,
    input_tokens_details: { cached_tokens: details?.cached_tokens ?? 0, cache_write_tokens: details?.cache_write_tokens ?? 0 },
    output_tokens: u?.completion_tokens ?? 0,
    output_tokens_details: { reasoning_tokens: u?.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: u?.total_tokens ?? (u?.prompt_tokens ?? 0) + (u?.completion_tokens ?? 0),
  };
}

/** Reasoning text on a chat message or delta (OpenAI-compatible upstreams use either name). */
export function reasoningText(m: unknown): string {
  const o = m as { reasoning_content?: unknown; reasoning?: unknown } | undefined;
  if (typeof o?.reasoning_content === "string") return o.reasoning_content;
  if (typeof o?.reasoning === "string") return o.reasoning;
  return "";
}

/** Final status and the reason for `incomplete`, from the chat finish reason. */
export function outcome(finish: FinishReason | null | undefined): Pick<ResponseObject, "status" | "incomplete_details"> {
  if (finish === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (finish === "content_filter") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/** A finished answer as one Response object. */
export function toResponse(res: ChatResponse, ctx: ResponseContext): ResponseObject {
  const ids = new ItemIds(ctx.id, "o");
  const choice = res.choices[0];
  const msg = choice?.message;
  const { status, incomplete_details } = outcome(choice?.finish_reason);
  const output: OutputItem[] = [];

  const reasoning = reasoningText(msg);
  if (reasoning) output.push({ id: ids.next("rs"), type: "reasoning", summary: [{ type: "summary_text", text: reasoning }] });

  const calls = msg?.tool_calls ?? [];
  const text = msg?.content ?? "";
  const refusal = msg?.refusal ?? "";
  if (text || refusal || !calls.length) {
    const content: OutputMessage["content"] = [];
    if (text || !refusal) content.push({ type: "output_text", text, annotations: [], logprobs: [] });
    if (refusal) content.push({ type: "refusal", refusal });
    output.push({ id: ids.next("msg"), type: "message", status: status === "completed" ? "completed" : "incomplete", role: "assistant", content });
  }
  for (const c of calls) output.push(callItem(ctx, (p) => ids.next(p), { call_id: c.id, name: c.function.name, arguments: c.function.arguments }, "completed"));

  return {
    ...responseShell(ctx, status),
    completed_at: status === "completed" ? (ctx.completedAt ?? null) : null,
    incomplete_details,
    output,
    usage: usageOf(res.usage),
  };
}
