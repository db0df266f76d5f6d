// Unified chat chunks → Responses stream events (https://platform.openai.com/docs/api-reference/responses-streaming).
// One item is open at a time, in the order the chunks bring them (reasoning, then text, then each tool call); a
// delta of another kind closes the open item (its `.done` events) and opens the next (`output_item.added`, …).
// Usage comes in a chunk after the finish_reason one, so the terminal event is written by `finish`.
import type { AlloyError } from "../../errors.ts";
import type { ChatChunk, FinishReason, Usage } from "../../openai/schema.ts";
import type { SseEvent, StreamEncoder } from "../dialect.ts";
import { callItem, outcome, reasoningText, responseShell, usageOf, type ResponseContext } from "./encode.ts";
import { ItemIds } from "./ids.ts";
import type { OutputCustomToolCall, OutputFunctionCall, OutputItem, OutputMessage, OutputReasoning, ResponseErrorCode, ResponseObject, ResponseStreamEvent } from "./schema.ts";
import { customInput } from "./tools.ts";

/** A tool call being streamed; `args` is the chat call's arguments so far (a custom tool's input is inside them). */
type CallOpen = { kind: "call"; index: number; item: OutputFunctionCall | OutputCustomToolCall; toolIndex: number; args: string };

type Open =
  | { kind: "reasoning"; index: number; item: OutputReasoning }
  | { kind: "message"; index: number; item: OutputMessage; part: "text" | "refusal" | undefined }
  | CallOpen;

export interface ResponsesStreamState {
  readonly ctx: ResponseContext;
  readonly ids: ItemIds;
  seq: number;
  output: OutputItem[];
  open: Open | undefined;
  /** Tool-call index in the chat stream → its output item (late argument fragments still reach the right call). */
  calls: Map<number, CallOpen>;
  finish: FinishReason | null;
  usage: Usage | undefined;
  /** The terminal response, once `finish` or `fail` wrote it. */
  final: ResponseObject | undefined;
}

type EventBody = ResponseStreamEvent extends infer E ? (E extends { sequence_number: number } ? Omit<E, "sequence_number"> : never) : never;

function emit(s: ResponsesStreamState, out: SseEvent[], body: EventBody): void {
  const data = { ...body, sequence_number: s.seq++ } as ResponseStreamEvent;
  out.push({ event: data.type, data });
}

const copy = <T>(v: T): T => structuredClone(v);

function snapshot(s: ResponsesStreamState, status: ResponseObject["status"]): ResponseObject {
  return { ...responseShell(s.ctx, status), output: copy(s.output) };
}

/** A new stream's state and its first two events (`response.created`, `response.in_progress`). */
export function initStream(ctx: ResponseContext): { state: ResponsesStreamState; events: SseEvent[] } {
  const state: ResponsesStreamState = {
    ctx,
    ids: new ItemIds(ctx.id, "o"),
    seq: 0,
    output: [],
    open: undefined,
    calls: new Map(),
    finish: null,
    usage: undefined,
    final: undefined,
  };
  const events: SseEvent[] = [];
  emit(state, events, { type: "response.created", response: snapshot(state, "in_progress") });
  emit(state, events, { type: "response.in_progress", response: snapshot(state, "in_progress") });
  return { state, events };
}

function closePart(s: ResponsesStreamState, out: SseEvent[], o: Extract<Open, { kind: "message" }>): void {
  if (!o.part) return;
  const content_index = o.item.content.length - 1;
  const part = o.item.content[content_index]!;
  const at = { item_id: o.item.id, output_index: o.index, content_index };
  if (part.type === "output_text") emit(s, out, { type: "response.output_text.done", ...at, text: part.text, logprobs: [] });
  else emit(s, out, { type: "response.refusal.done", ...at, refusal: part.refusal });
  emit(s, out, { type: "response.content_part.done", ...at, part: copy(part) });
  o.part = undefined;
}

function closeOpen(s: ResponsesStreamState, out: SseEvent[], itemStatus: "completed" | "incomplete" = "completed"): void {
  const o = s.open;
  if (!o) return;
  s.open = undefined;
  if (o.kind === "reasoning") {
    const at = { item_id: o.item.id, output_index: o.index, summary_index: 0 };
    const part = o.item.summary[0]!;
    emit(s, out, { type: "response.reasoning_summary_text.done", ...at, text: part.text });
    emit(s, out, { type: "response.reasoning_summary_part.done", ...at, part: copy(part) });
  } else if (o.kind === "message") {
    closePart(s, out, o);
    o.item.status = itemStatus;
  } else {
    const at = { item_id: o.item.id, output_index: o.index };
    if (o.item.type === "custom_tool_call") {
      // The input sits inside the chat call's JSON arguments: it is known whole only now.
      o.item.input = customInput(o.args);
      if (o.item.input) emit(s, out, { type: "response.custom_tool_call_input.delta", ...at, delta: o.item.input });
      emit(s, out, { type: "response.custom_tool_call_input.done", ...at, input: o.item.input });
    } else emit(s, out, { type: "response.function_call_arguments.done", ...at, name: o.item.name, arguments: o.item.arguments });
    o.item.status = "completed";
  }
  emit(s, out, { type: "response.output_item.done", output_index: o.index, item: copy(o.item) });
}

function openItem(s: ResponsesStreamState, out: SseEvent[], o: Open): void {
  s.open = o;
  s.output.push(o.item);
  emit(s, out, { type: "response.output_item.added", output_index: o.index, item: copy(o.item) });
}

function addReasoning(s: ResponsesStreamState, out: SseEvent[], delta: string): void {
  if (s.open?.kind !== "reasoning") {
    closeOpen(s, out);
    const item: OutputReasoning = { id: s.ids.next("rs"), type: "reasoning", summary: [] };
    openItem(s, out, { kind: "reasoning", index: s.output.length, item });
    item.summary.push({ type: "summary_text", text: "" });
    emit(s, out, { type: "response.reasoning_summary_part.added", item_id: item.id, output_index: s.open!.index, summary_index: 0, part: { type: "summary_text", text: "" } });
  }
  const o = s.open as Extract<Open, { kind: "reasoning" }>;
  o.item.summary[0]!.text += delta;
  emit(s, out, { type: "response.reasoning_summary_text.delta", item_id: o.item.id, output_index: o.index, summary_index: 0, delta });
}

function addMessageText(s: ResponsesStreamState, out: SseEvent[], delta: string, part: "text" | "refusal"): void {
  if (s.open?.kind !== "message") {
    closeOpen(s, out);
    const item: OutputMessage = { id: s.ids.next("msg"), type: "message", status: "in_progress", role: "assistant", content: [] };
    openItem(s, out, { kind: "message", index: s.output.length, item, part: undefined });
  }
  const o = s.open as Extract<Open, { kind: "message" }>;
  if (o.part !== part) {
    closePart(s, out, o);
    const fresh = part === "text" ? { type: "output_text" as const, text: "", annotations: [], logprobs: [] } : { type: "refusal" as const, refusal: "" };
    o.item.content.push(fresh);
    o.part = part;
    emit(s, out, { type: "response.content_part.added", item_id: o.item.id, output_index: o.index, content_index: o.item.content.length - 1, part: copy(fresh) });
  }
  if (!delta) return;
  const content_index = o.item.content.length - 1;
  const cur = o.item.content[content_index]!;
  const at = { item_id: o.item.id, output_index: o.index, content_index };
  if (cur.type === "output_text") {
    cur.text += delta;
    emit(s, out, { type: "response.output_text.delta", ...at, delta, logprobs: [] });
  } else {
    cur.refusal += delta;
    emit(s, out, { type: "response.refusal.delta", ...at, delta });
  }
}

function addCallDelta(s: ResponsesStreamState, out: SseEvent[], d: { index: number; id?: string; function?: { name?: string; arguments?: string } }): void {
  const args = d.function?.arguments ?? "";
  const known = s.calls.get(d.index);
  if (known && s.open !== known) {
    // A fragment for a call that is already closed (a provider interleaving parallel calls): it still belongs in
    // the final item, but `.done` went out, so no delta event follows it.
    known.args += args;
    if (known.item.type === "function_call") known.item.arguments = known.args;
    else known.item.input = customInput(known.args);
    return;
  }
  if (!known) {
    closeOpen(s, out);
    const item = callItem(s.ctx, (p) => s.ids.next(p), { call_id: d.id || `call_${s.ctx.id}_${d.index}`, name: d.function?.name ?? "", arguments: "" }, "in_progress");
    const o: CallOpen = { kind: "call", index: s.output.length, item, toolIndex: d.index, args: "" };
    s.calls.set(d.index, o);
    openItem(s, out, o);
  }
  const o = s.open as CallOpen;
  if (!o.item.name && d.function?.name) o.item.name = d.function.name;
  if (args) {
    o.args += args;
    if (o.item.type === "function_call") {
      o.item.arguments += args;
      emit(s, out, { type: "response.function_call_arguments.delta", item_id: o.item.id, output_index: o.index, delta: args });
    }
  }
}

function step(s: ResponsesStreamState, chunk: ChatChunk): SseEvent[] {
  const out: SseEvent[] = [];
  if (s.final) return out;
  if (chunk.usage) s.usage = chunk.usage;
  for (const choice of chunk.choices ?? []) {
    if (choice.index !== 0) continue; // the Responses API has one answer per request
    const delta = choice.delta ?? {};
    const reasoning = reasoningText(delta);
    if (reasoning) addReasoning(s, out, reasoning);
    if (typeof delta.content === "string" && delta.content) addMessageText(s, out, delta.content, "text");
    if (typeof delta.refusal === "string" && delta.refusal) addMessageText(s, out, delta.refusal, "refusal");
    for (const tc of delta.tool_calls ?? []) addCallDelta(s, out, tc);
    if (choice.finish_reason) s.finish = choice.finish_reason;
  }
  return out;
}

function finish(s: ResponsesStreamState): SseEvent[] {
  const out: SseEvent[] = [];
  if (s.final) return out;
  const { status, incomplete_details } = outcome(s.finish);
  // An answer with nothing in it still has its (empty) message, as toResponse gives it.
  if (!s.output.length) addMessageText(s, out, "", "text");
  closeOpen(s, out, status === "completed" ? "completed" : "incomplete");
  s.final = {
    ...snapshot(s, status),
    completed_at: status === "completed" ? (s.ctx.completedAt ?? null) : null,
    incomplete_details,
    usage: usageOf(s.usage),
  };
  emit(s, out, { type: status === "completed" ? "response.completed" : "response.incomplete", response: s.final });
  return out;
}

/** The `response.error.code` for a failure: the schema's list has few that fit a gateway. */
export function failureCode(err: AlloyError): ResponseErrorCode {
  return err.kind === "rate_limit" ? "rate_limit_exceeded" : "server_error";
}

function fail(s: ResponsesStreamState, err: AlloyError): SseEvent[] {
  const out: SseEvent[] = [];
  if (s.final) return out;
  // Items cut short stay in the output as they were, marked incomplete; no `.done` events for them.
  if (s.open && s.open.kind !== "reasoning") s.open.item.status = "incomplete";
  s.open = undefined;
  s.final = { ...snapshot(s, "failed"), error: { code: failureCode(err), message: err.message } };
  if (s.usage) s.final.usage = usageOf(s.usage);
  emit(s, out, { type: "response.failed", response: s.final });
  return out;
}

/** The response as it stands: the terminal one after `finish`/`fail`, for the route to store. */
export function finalResponse(s: ResponsesStreamState): ResponseObject {
  return s.final ?? snapshot(s, "in_progress");
}

export const responsesStream: StreamEncoder<ResponsesStreamState> = { step, finish, fail };
export { step, finish, fail };
