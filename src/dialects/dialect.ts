// What an ingress dialect is: pure codecs between its wire format and the unified request/answer (OpenAI Chat
// Completions shapes in src/openai/schema.ts). The HTTP route for a dialect is thin: read and check the body, decode,
// run through governance, encode. Nothing in a dialect does I/O or reads a clock; the route passes ids and times in.
import type { AlloyError } from "../errors.ts";
import type { ChatChunk } from "../openai/schema.ts";

/** Facts the encoders need that only the route knows. */
export interface EncodeContext {
  /** The gateway's request id (x-request-id). */
  requestId: string;
  /** The model name the client asked for (answers on translated paths carry it). */
  model: string;
  /** Unix seconds, taken once by the route. */
  created: number;
}

/** One server-sent event as the dialect wants it written: an optional `event:` name and a JSON payload. */
export interface SseEvent {
  event?: string;
  data: unknown;
  /** `data` already serialised (an upstream's own bytes on a passthrough path): written as is. */
  raw?: string;
}

/** A failure as this dialect's clients expect it: status, JSON body, extra headers (Retry-After, …). */
export interface ErrorReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * Unified chunks → this dialect's stream events, as a state machine like the provider stream translators:
 * `step` for each chunk, then exactly one of `finish` (the upstream stream completed) or `fail` (it broke after the
 * first event went out).
 */
export interface StreamEncoder<S> {
  /** `raw`: the upstream's bytes for this chunk, when it passed through unchanged (only a same-dialect relay uses it). */
  step(state: S, chunk: ChatChunk, raw?: string): SseEvent[];
  finish(state: S): SseEvent[];
  fail(state: S, err: AlloyError): SseEvent[];
}
