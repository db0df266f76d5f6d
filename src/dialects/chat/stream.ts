// Unified chunks → the OpenAI Chat Completions event stream: `data: {chunk}` … `data: [DONE]`, or one error event and
// no [DONE]. The unified chunks are this dialect's own shape, so the encoder only filters: the usage-only chunk goes
// out when the client asked for it, and a chunk that passed through unchanged goes out as the upstream's bytes.
import type { AlloyError } from "../../errors.ts";
import type { ChatChunk } from "../../openai/schema.ts";
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

export type { ChatChunk };
