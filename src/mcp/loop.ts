// The bounded tool loop: call the model, run the MCP tools it asks for, append the results, call it again — up to
// `max_iterations` model calls. It takes `complete`/`stream`/`runTool` functions, not the gateway, so it is tested
// with plain fakes and knows nothing of HTTP.
//
// Decisions (documented in the README):
// - A round that calls any of the client's own tools ends the loop: only the client's calls are returned; MCP calls
//   of that round are not run (the model asks again after the client answers).
// - Reaching max_iterations with MCP calls still pending answers with the last message plus a note, and
//   finish_reason "length" (stopped by a limit), never an error.
// - Non-streamed answers carry the final round's message; streamed answers show the text of every round as it arrives.
import { AlloyError } from "../errors.ts";
import { chunkOf, usageChunk, type ChunkHead, type Delta } from "../providers/kit.ts";
import type { ChatChunk, ChatMessage, ChatRequest, ChatResponse, FinishReason, ToolCall, Usage } from "../openai/schema.ts";
import { ToolCallAccumulator } from "../openai/tool-calls.ts";
import type { McpPlan } from "./tools.ts";

export interface LoopFns {
  /** One non-streamed model call (through governance). */
  complete(req: ChatRequest): Promise<ChatResponse>;
  /** One streamed model call: its first chunk and the rest. */
  stream(req: ChatRequest): Promise<{ first: ChatChunk; rest: AsyncIterator<ChatChunk> }>;
  /** Run one MCP tool call; resolves with the text for the model (errors included), rejects only when cancelled. */
  runTool(call: ToolCall): Promise<string>;
  maxIterations: number;
}

export function addUsage(a: Usage | undefined, b: Usage | null | undefined): Usage | undefined {
  if (!b) return a;
  if (!a) return { ...b };
  const sum: Usage = {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
  const cached = (a.prompt_tokens_details?.cached_tokens ?? 0) + (b.prompt_tokens_details?.cached_tokens ?? 0);
  const reasoning = (a.completion_tokens_details?.reasoning_tokens ?? 0) + (b.completion_tokens_details?.reasoning_tokens ?? 0);
  if (a.prompt_tokens_details || b.prompt_tokens_details) sum.prompt_tokens_details = { cached_tokens: cached };
  if (a.completion_tokens_details || b.completion_tokens_details) sum.completion_tokens_details = { reasoning_tokens: reasoning };
  return sum;
}

export function splitCalls(calls: ToolCall[], plan: McpPlan): { mcp: ToolCall[]; client: ToolCall[] } {
  const mcp: ToolCall[] = [];
  const client: ToolCall[] = [];
  for (const c of calls) (plan.auto.has(c.function.name) ? mcp : client).push(c);
  return { mcp, client };
}

export function maxIterationsNote(rounds: number, pending: ToolCall[]): string {
  const names = [...new Set(pending.map((c) => c.function.name))].join(", ");
  return `[alloy: stopped after ${rounds} model calls (mcp.max_iterations) with tool calls still pending: ${names}]`;
}

/** The request for round `round`: the conversation so far; a forcing tool_choice only applies to the first round. */
function roundRequest(base: ChatRequest, messages: ChatMessage[], round: number, stream: boolean): ChatRequest {
  const req: ChatRequest = { ...base, messages };
  const forced = base.tool_choice === "required" || typeof base.tool_choice === "object";
  if (round > 1 && forced) req.tool_choice = "auto";
  // Usage is summed over rounds, so every streamed round must report it.
  if (stream) req.stream_options = { ...base.stream_options, include_usage: true };
  return req;
}

async function toolTurn(msgContent: string | null, calls: ToolCall[], fns: LoopFns): Promise<ChatMessage[]> {
  const results = await Promise.all(calls.map((c) => fns.runTool(c)));
  return [
    { role: "assistant", content: msgContent, tool_calls: calls },
    ...results.map((content, i): ChatMessage => ({ role: "tool", tool_call_id: calls[i]!.id, content })),
  ];
}

export async function runToolLoop(plan: McpPlan, fns: LoopFns): Promise<ChatResponse> {
  const messages = [...plan.req.messages];
  let usage: Usage | undefined;
  for (let round = 1; ; round++) {
    const res = await fns.complete(roundRequest(plan.req, messages, round, false));
    usage = addUsage(usage, res.usage);
    const choice = res.choices[0];
    const calls = choice?.message.tool_calls ?? [];
    const { mcp, client } = splitCalls(calls, plan);
    if (!choice || mcp.length === 0) return { ...res, ...(usage ? { usage } : {}) };
    if (client.length) {
      return { ...res, choices: [{ ...choice, message: { ...choice.message, tool_calls: client }, finish_reason: "tool_calls" }], ...(usage ? { usage } : {}) };
    }
    if (round >= fns.maxIterations) {
      const { tool_calls: _pending, ...message } = choice.message;
      const note = maxIterationsNote(round, mcp);
      const content = message.content ? `${message.content}\n\n${note}` : note;
      return { ...res, choices: [{ ...choice, message: { ...message, content }, finish_reason: "length" }], ...(usage ? { usage } : {}) };
    }
    messages.push(...(await toolTurn(choice.message.content, mcp, fns)));
  }
}

/**
 * The loop over streamed rounds as ONE client stream: one id, the role first, text as it arrives, the client's own tool
 * calls (if any), one finish_reason, a usage chunk summed over rounds (the SSE layer drops it unless asked).
 * Round 1 is opened before this resolves, so failing to reach any model is still an HTTP error, not a stream error.
 */
export async function streamToolLoop(plan: McpPlan, fns: LoopFns): Promise<{ first: ChatChunk; rest: AsyncIterator<ChatChunk> }> {
  const gen = streamRounds(plan, fns);
  const first = await gen.next();
  if (first.done) throw new AlloyError("server", "the model stream ended before sending anything");
  return { first: first.value, rest: gen };
}

async function* streamRounds(plan: McpPlan, fns: LoopFns): AsyncGenerator<ChatChunk, void, undefined> {
  const messages = [...plan.req.messages];
  let usage: Usage | undefined;
  let head: ChunkHead | undefined;
  /** Whether any text reached the client; the next round's text then starts on a new paragraph. */
  let shown = false;
  const chunk = (delta: Delta, finish: FinishReason | null = null): ChatChunk => chunkOf(head!, delta, finish);
  for (let round = 1; ; round++) {
    const { first, rest } = await fns.stream(roundRequest(plan.req, messages, round, true));
    if (!head) {
      head = { id: first.id, created: first.created, model: first.model };
      yield chunk({ role: "assistant", content: "" });
    }
    const acc = new ToolCallAccumulator();
    let text = "";
    let sep = shown ? "\n\n" : "";
    let finish: FinishReason | null = null;
    let ended = false;
    try {
      for (let c: ChatChunk | undefined = first; c; ) {
        if (c.usage) usage = addUsage(usage, c.usage);
        const ch = c.choices.find((x) => x.index === 0);
        if (ch) {
          if (ch.delta.tool_calls) acc.add(ch.delta.tool_calls);
          const { content, refusal } = ch.delta;
          if (content) {
            text += content;
            shown = true;
            yield chunk({ content: sep + content });
            sep = "";
          }
          if (refusal) yield chunk({ refusal });
          if (ch.finish_reason) finish = ch.finish_reason;
        }
        const r = await rest.next();
        if (r.done) ended = true;
        c = r.done ? undefined : r.value;
      }
    } finally {
      // Stopped early (the client left): free the upstream and its slot.
      if (!ended) await rest.return?.();
    }
    const { mcp, client } = splitCalls(acc.calls(), plan);
    const done = mcp.length === 0 || client.length > 0 || round >= fns.maxIterations;
    if (done) {
      if (client.length) {
        yield chunk({
          tool_calls: client.map((c, index) => ({ index, id: c.id, type: "function" as const, function: { name: c.function.name, arguments: c.function.arguments } })),
        });
        yield chunk({}, "tool_calls");
      } else if (mcp.length) {
        yield chunk({ content: `${shown ? "\n\n" : ""}${maxIterationsNote(round, mcp)}` });
        yield chunk({}, "length");
      } else yield chunk({}, finish ?? "stop");
      if (usage) yield usageChunk(head!, usage);
      return;
    }
    messages.push(...(await toolTurn(text || null, mcp, fns)));
  }
}
