// The translation kit every provider (and the MCP loop) builds unified chunks with: one chunk shape, one usage chunk,
// one id and clock. Translators stay pure: they take the head (id, created, model) from their state.
import { asAlloyError } from "../errors.ts";
import type { ChatChunk, FinishReason, Usage } from "../openai/schema.ts";
import type { CallOptions } from "./provider.ts";

/** What every chunk of one stream shares. */
export interface ChunkHead {
  id: string;
  created: number;
  model: string;
}

export type Delta = ChatChunk["choices"][0]["delta"];

/** One choice-0 chunk: a delta, and the finish reason on the last one. */
export function chunkOf(h: ChunkHead, delta: Delta, finish: FinishReason | null = null): ChatChunk {
  return { id: h.id, object: "chat.completion.chunk", created: h.created, model: h.model, choices: [{ index: 0, delta, finish_reason: finish }] };
}

/** The usage-only chunk that ends a stream (`choices: []`), as OpenAI sends with stream_options.include_usage. */
export function usageChunk(h: ChunkHead, usage: Usage): ChatChunk {
  return { id: h.id, object: "chat.completion.chunk", created: h.created, model: h.model, choices: [], usage };
}

/** A provider's own headers (built once) with one call's request id and trace headers. */
export const callHeaders = (base: Record<string, string>, o: CallOptions): Record<string, string> => ({ ...base, "x-request-id": o.requestId, ...o.headers });

/** Unix seconds: the `created` of answers built here. */
export const unixNow = (): number => Math.floor(Date.now() / 1000);

let seq = 0;
const stem = Date.now().toString(36);
/** A `chatcmpl-…` id for answers whose upstream gave none: unique in the process, cheap (no crypto per call). */
export const localChatId = (): string => `chatcmpl-${stem}${(seq++).toString(36)}`;

/**
 * Append a turn's blocks, merged into the previous turn when it has the same role: Anthropic and Converse both
 * require alternating roles (and reject empty turns, which are dropped).
 */
export function pushTurn<B, R extends string>(turns: Array<{ role: R; content: B[] }>, role: R, blocks: B[]): void {
  if (blocks.length === 0) return;
  const last = turns[turns.length - 1];
  if (last && last.role === role) last.content.push(...blocks);
  else turns.push({ role, content: blocks });
}

/**
 * What a stream's reader throws when it stops: our own abort reason (timeout, client gone, shutdown) wins over
 * whatever the transport made of the abort; anything else goes on as it was classified where it happened.
 */
export function streamFailure(e: unknown, signal: AbortSignal): unknown {
  return signal.aborted ? asAlloyError(signal.reason) : e;
}
