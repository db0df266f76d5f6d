// ConverseStream events → OpenAI chunks, as a pure state machine: `step(state, event)` returns the chunks that event
// produces (no I/O, no clock), `finish(state)` the closing usage chunk. The OpenAI tool-call index counts tool calls
// (0, 1, …); Bedrock's contentBlockIndex also counts text blocks, so it is only used to find a call again.
import type { ConverseStreamOutput, TokenUsage } from "@aws-sdk/client-bedrock-runtime";
import { chunkOf, usageChunk } from "../kit.ts";
import { AlloyError } from "../../errors.ts";
import type { ChatChunk, FinishReason } from "../../openai/schema.ts";
import { bedrockException } from "./errors.ts";
import { finishReason, toUsage } from "./response.ts";

export interface StreamState {
  readonly provider: string;
  readonly id: string;
  readonly model: string;
  readonly created: number;
  started: boolean;
  /** contentBlockIndex → OpenAI tool-call index. */
  readonly toolIndex: Map<number, number>;
  finish?: FinishReason;
  /** The raw stopReason, for logs when it is not one we know. */
  stopReason?: string;
  usage?: TokenUsage;
}

export function newStreamState(o: { provider: string; id: string; model: string; created: number }): StreamState {
  return { ...o, started: false, toolIndex: new Map() };
}

const chunk = chunkOf;

/** The role chunk goes first, whatever event comes first. */
function open(s: StreamState, out: ChatChunk[]): ChatChunk[] {
  if (!s.started) {
    s.started = true;
    out.push(chunk(s, { role: "assistant", content: "" }));
  }
  return out;
}

const EXCEPTIONS = [
  "throttlingException",
  "modelStreamErrorException",
  "internalServerException",
  "validationException",
  "serviceUnavailableException",
] as const;

export function step(s: StreamState, ev: ConverseStreamOutput): ChatChunk[] {
  if (ev.messageStart) return open(s, []);
  if (ev.contentBlockStart) {
    const use = ev.contentBlockStart.start?.toolUse;
    if (!use) return [];
    const index = s.toolIndex.size;
    s.toolIndex.set(ev.contentBlockStart.contentBlockIndex ?? index, index);
    return open(s, [])
      .concat(chunk(s, { tool_calls: [{ index, id: use.toolUseId, type: "function", function: { name: use.name, arguments: "" } }] }));
  }
  if (ev.contentBlockDelta) {
    const d = ev.contentBlockDelta.delta;
    if (d?.text) return open(s, []).concat(chunk(s, { content: d.text }));
    if (d?.toolUse) {
      const index = s.toolIndex.get(ev.contentBlockDelta.contentBlockIndex ?? -1);
      if (index === undefined) throw new AlloyError("server", `${s.provider} streamed tool input for a block that never started`);
      if (!d.toolUse.input) return [];
      return open(s, []).concat(chunk(s, { tool_calls: [{ index, function: { arguments: d.toolUse.input } }] }));
    }
    return []; // reasoning, citations and the like never reach the OpenAI content
  }
  if (ev.messageStop) {
    s.stopReason = ev.messageStop.stopReason;
    s.finish = finishReason(s.stopReason);
    return open(s, []).concat(chunk(s, {}, s.finish));
  }
  if (ev.metadata) {
    s.usage = ev.metadata.usage;
    return [];
  }
  for (const name of EXCEPTIONS) {
    const e = ev[name];
    if (e) throw bedrockException(s.provider, name, e.message);
  }
  return []; // contentBlockStop and events this version does not know
}

/** After the last event: the usage-only chunk (the HTTP layer drops it unless the client asked). */
export function finish(s: StreamState): ChatChunk[] {
  if (!s.finish) throw new AlloyError("server", `${s.provider} ended the stream before messageStop`);
  return [usageChunk(s, toUsage(s.usage))];
}
