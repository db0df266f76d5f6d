// Typed Anthropic stream events → OpenAI chunks, as a state machine: `step(state, event)` returns the chunks an event
// produces and `finish(state)` the closing ones. No I/O and no clock here; the provider feeds events in.
import { AlloyError } from "../../errors.ts";
import { chunkOf, usageChunk, type Delta } from "../kit.ts";
import type { ChatChunk, ToolCallDelta } from "../../openai/schema.ts";
import { streamError } from "./errors.ts";
import type { JsonTool } from "./request.ts";
import { finishReason, toUsage } from "./response.ts";
import type { AnthropicUsage, StreamEvent } from "./schema.ts";

/** What an Anthropic content block carries, by its block index. */
type Block =
  | { kind: "text" }
  /** `index` counts tool calls (0, 1, …), not Anthropic block indexes: a text block before the tools shifts those. */
  | { kind: "tool"; index: number; args: boolean }
  /** The response_format tool: its input JSON streams out as content. */
  | { kind: "json"; emitted: boolean }
  /** thinking, redacted_thinking, server tools, future types. */
  | { kind: "skip" };

export interface StreamState {
  id: string;
  model: string;
  created: number;
  jsonTool?: JsonTool;
  blocks: Record<number, Block>;
  toolCalls: number;
  usage: AnthropicUsage;
  roleSent: boolean;
  finishSent: boolean;
  /** message_stop arrived: the stream is complete. */
  stopped: boolean;
}

export interface StreamOptions {
  /** What the client asked for. */
  model: string;
  /** Unix seconds. */
  created: number;
  /** Used until message_start brings Anthropic's message id. */
  id: string;
  jsonTool?: JsonTool;
}

export function initStream(o: StreamOptions): StreamState {
  return {
    id: o.id,
    model: o.model,
    created: o.created,
    ...(o.jsonTool ? { jsonTool: o.jsonTool } : {}),
    blocks: {},
    toolCalls: 0,
    usage: {},
    roleSent: false,
    finishSent: false,
    stopped: false,
  };
}

const chunk = chunkOf;

/** Later usage reports are cumulative: each number given replaces the earlier one. */
function mergeUsage(s: StreamState, u: AnthropicUsage | undefined): void {
  if (!u) return;
  for (const k of ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"] as const)
    if (typeof u[k] === "number") s.usage[k] = u[k];
}

export function step(s: StreamState, e: StreamEvent): ChatChunk[] {
  const out: ChatChunk[] = [];
  // Every stream opens with the role, even one that (wrongly) skips message_start.
  const emit = (delta: Delta, finish: ChatChunk["choices"][0]["finish_reason"] = null) => {
    if (!s.roleSent) {
      s.roleSent = true;
      out.push(chunk(s, { role: "assistant", content: "" }));
    }
    if (Object.keys(delta).length || finish) out.push(chunk(s, delta, finish));
  };
  const tool = (d: ToolCallDelta) => emit({ tool_calls: [d] });

  switch (e.type) {
    case "message_start":
      if (!s.roleSent) s.id = e.message.id;
      mergeUsage(s, e.message.usage);
      emit({});
      break;
    case "content_block_start": {
      const b = e.content_block;
      if (b.type === "text") {
        s.blocks[e.index] = { kind: "text" };
        if (b.text && !s.jsonTool?.forced) emit({ content: b.text });
      } else if (b.type === "tool_use" && typeof b.id === "string" && typeof b.name === "string") {
        if (s.jsonTool && b.name === s.jsonTool.name) s.blocks[e.index] = { kind: "json", emitted: false };
        else {
          const index = s.toolCalls++;
          s.blocks[e.index] = { kind: "tool", index, args: false };
          tool({ index, id: b.id, type: "function", function: { name: b.name, arguments: "" } });
        }
      } else s.blocks[e.index] = { kind: "skip" };
      break;
    }
    case "content_block_delta": {
      const b = s.blocks[e.index];
      const d = e.delta;
      if (!b) break;
      if (b.kind === "text" && d.type === "text_delta" && d.text && !s.jsonTool?.forced) emit({ content: d.text });
      else if (d.type === "input_json_delta" && d.partial_json) {
        if (b.kind === "tool") {
          b.args = true;
          tool({ index: b.index, function: { arguments: d.partial_json } });
        } else if (b.kind === "json") {
          b.emitted = true;
          emit({ content: d.partial_json });
        }
      }
      break;
    }
    case "content_block_stop": {
      // A tool called with no input streams no fragments; "{}" keeps the client's JSON.parse(arguments) working.
      const b = s.blocks[e.index];
      if (b?.kind === "tool" && !b.args) tool({ index: b.index, function: { arguments: "{}" } });
      if (b?.kind === "json" && !b.emitted) emit({ content: "{}" });
      break;
    }
    case "message_delta":
      mergeUsage(s, e.usage);
      if (e.delta.stop_reason && !s.finishSent) {
        s.finishSent = true;
        emit({}, finishReason(e.delta.stop_reason, s.toolCalls > 0));
      }
      break;
    case "message_stop":
      s.stopped = true;
      break;
    case "error":
      throw streamError(e.error);
    case "ping":
    case "unknown":
      break;
  }
  return out;
}

/** The closing chunks once the upstream stream ended: finish_reason if still owed, then the usage-only chunk. */
export function finish(s: StreamState): ChatChunk[] {
  if (!s.stopped) throw new AlloyError("network", "Anthropic stream ended before message_stop");
  const out: ChatChunk[] = [];
  if (!s.roleSent) out.push(chunk(s, { role: "assistant", content: "" }));
  if (!s.finishSent) out.push(chunk(s, {}, "stop"));
  out.push(usageChunk(s, toUsage(s.usage)));
  return out;
}
