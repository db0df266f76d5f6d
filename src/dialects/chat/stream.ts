// Unified chunks → the OpenAI Chat Completions event stream: `data: {chunk}` … `data: [DONE]`, or one error event and
// no [DONE]. The unified chunks are this dialect's own shape, so the encoder only filters: the usage-only chunk goes
// out when the client asked for it, and a chunk that passed through unchanged goes out as the upstream's bytes.
import type { AlloyError } from "../../errors.ts";
import type { ChatChunk, Usage } from "../../openai/schema.ts";
import type { RelayEvent } from "../../providers/openai/scan.ts";
import type { ItemEncoder } from "../../http/sse.ts";
import type { SseEvent, StreamEncoder } from "../dialect.ts";

export interface ChatStreamState {
  /** stream_options.include_usage: the client wants the final usage-only chunk. */
  includeUsage: boolean;
}

const NONE: SseEvent[] = [];
const DONE: SseEvent[] = [{ data: "[DONE]", raw: "[DONE]" }];

export const chatStream: StreamEncoder<ChatStreamState> = {
  step(s, chunk, raw) {
    if (!s.includeUsage && chunk.choices.length === 0) return NONE;
    return [raw === undefined ? { data: chunk } : { data: chunk, raw }];
  },
  finish: () => DONE,
  fail: (_s, err: AlloyError) => [{ data: err.toBody() }],
};

/**
 * The same dialect over an upstream's own events (a same-dialect relay), a batch per upstream read: each goes out as
 * its bytes, the usage-only one only when asked for. Nothing to translate, so nothing is parsed.
 */
export const chatRelay: ItemEncoder<RelayEvent[], ChatStreamState> = {
  step(s, batch) {
    if (batch.length === 1) {
      const e = batch[0]!;
      return e.usageOnly && !s.includeUsage ? NONE : [{ data: null, raw: e.data }];
    }
    const out: SseEvent[] = [];
    for (const e of batch) if (!e.usageOnly || s.includeUsage) out.push({ data: null, raw: e.data });
    return out;
  },
  finish: () => DONE,
  fail: (_s, err: AlloyError) => [{ data: err.toBody() }],
};

/** What the access line reads of a batch of relayed events. */
export function observeRelay(batch: RelayEvent[], end: { usage?: Usage; finishReason?: string | null }): void {
  for (const e of batch) {
    if (e.usage) end.usage = e.usage;
    if (e.finish) end.finishReason = e.finish;
  }
}

export type { ChatChunk };
