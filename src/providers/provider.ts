// The contract every upstream adapter implements: one unified request in, a unified response or a stream of unified
// chunks out, failures thrown as AlloyError (kind says whether governance may retry). Nothing here knows HTTP routing.
import type { TSchema } from "@sinclair/typebox";
import type { ChatChunk, ChatRequest, ChatResponse } from "../openai/schema.ts";
import type { EmbeddingsRequest, EmbeddingsResponse, Inputs, RelayedEmbeddings } from "../dialects/embeddings/schema.ts";
import type { RelayedChat, RelayEvent } from "./openai/scan.ts";
import type { SseFrame } from "./sse.ts";
import type { UpstreamLimits } from "./upstream.ts";

/**
 * An answer and, when it is exactly what the upstream sent, the upstream's own JSON text: the encoder then sends
 * those bytes instead of serialising the object again (the passthrough path). Whoever changes `value` builds a new
 * Reply without `raw`, so the bytes can never disagree with the object.
 */
export interface Reply<T> {
  value: T;
  raw?: string;
}

/** One stream chunk, with the upstream's bytes for it when it passes through unchanged. */
export interface Piece {
  chunk: ChatChunk;
  raw?: string;
}

export interface CallOptions {
  /** The model id at this provider (prefix and alias already resolved). */
  model: string;
  /** Aborts on client disconnect, per-attempt timeout or the request deadline. */
  signal: AbortSignal;
  requestId: string;
  /** Headers for this one call (the trace's `traceparent`), merged over the provider's own; absent when tracing is off. */
  headers?: Record<string, string>;
  /**
   * For a call that fans out into several upstream calls at once (Bedrock embeddings): one more of the provider's
   * concurrency slots, taken now if one is free, as its release function (call it once); undefined when none is free.
   * The call's own slot covers its first upstream call. Absent outside the dispatcher.
   */
  extraSlot?(): (() => void) | undefined;
}

/** What a native Messages call carries besides the body: the client's anthropic-version / anthropic-beta. */
export interface NativeMessagesOptions extends CallOptions {
  version?: string;
  beta?: string;
}

/**
 * Optional capability: the provider speaks the Anthropic Messages API itself, so `/v1/messages` goes to it without
 * translation. The body is the client's (model replaced); the answer and every event come back unchanged.
 */
export interface NativeMessages {
  /**
   * Whether this model id (at the provider) speaks Messages natively; absent means every model does. Bedrock: only
   * Claude ids (`anthropic.…`, `us.anthropic.…`, ARNs of Claude profiles) — its other models take Converse.
   */
  supports?(model: string): boolean;
  messages(body: Record<string, unknown>, o: NativeMessagesOptions): Promise<Reply<unknown>>;
  /** The upstream's events as they come, a batch per upstream read; the stream must end with message_stop or it throws. */
  messagesStream(body: Record<string, unknown>, o: NativeMessagesOptions): AsyncIterable<SseFrame[]>;
  countTokens?(body: Record<string, unknown>, o: NativeMessagesOptions): Promise<Reply<unknown>>;
}

/** Events that end a Responses stream; a native stream without one was cut short. */
export const RESPONSES_TERMINAL: ReadonlySet<string> = new Set(["response.completed", "response.incomplete", "response.failed"]);

/**
 * Optional capability: the upstream has the OpenAI Responses API, so `/v1/responses` goes to it without translation.
 * The body is the client's (model replaced; Alloy's stored turns already expanded into `input`); the answer and
 * every event come back unchanged.
 */
export interface NativeResponses {
  responses(body: Record<string, unknown>, o: CallOptions): Promise<Reply<unknown>>;
  /**
   * The upstream's events as they come, a batch per upstream read; the stream must end with a terminal event
   * (RESPONSES_TERMINAL) or it throws.
   */
  responsesStream(body: Record<string, unknown>, o: CallOptions): AsyncIterable<SseFrame[]>;
}

/**
 * Optional capability: the upstream streams OpenAI chunks itself, so a Chat Completions stream that goes out
 * unchanged can be relayed event by event, scanned instead of parsed (see providers/openai/scan.ts).
 */
export interface ChatRelay {
  relayChatStream(req: ChatRequest, o: CallOptions): AsyncIterable<RelayEvent[]>;
  /** A non-streamed answer as the upstream's bytes, with usage and finish found in them (a large one by a scan). */
  relayChat(req: ChatRequest, o: CallOptions): Promise<RelayedChat>;
}

export interface Provider {
  readonly name: string;
  /** Present when the upstream's chat stream can be relayed as it is. */
  readonly chatRelay?: ChatRelay;
  /** Present when the upstream speaks the Anthropic Messages API natively. */
  readonly nativeMessages?: NativeMessages;
  /** Present when the upstream speaks the OpenAI Responses API natively (and is configured to be used so). */
  readonly nativeResponses?: NativeResponses;
  chat(req: ChatRequest, o: CallOptions): Promise<Reply<ChatResponse>>;
  /** Chunks in OpenAI shape; the last one carries finish_reason, a usage-only chunk may follow. */
  chatStream(req: ChatRequest, o: CallOptions): AsyncIterable<Piece>;
  /**
   * Optional capability: `/v1/embeddings`. `req` is the client's request (validated), `inputs` its input in one shape.
   * The answer is OpenAI's list; a provider that builds it itself returns float vectors (the route encodes base64 when
   * asked), a passthrough provider the upstream's answer and bytes unchanged (`raw`). Without it: a 400.
   */
  embeddings?(req: EmbeddingsRequest, inputs: Inputs, o: CallOptions): Promise<Reply<EmbeddingsResponse> | RelayedEmbeddings>;
  /** Release clients and sockets on shutdown. */
  close?(): Promise<void> | void;
}

/** Startup-time facts a provider factory may need, resolved once by the config loader. */
export interface ProviderContext {
  env: Record<string, string | undefined>;
}

/** What a provider module exports: its own config keys (validated at startup) and a factory. */
export interface ProviderModule<C = any> {
  type: string;
  /**
   * Bare model names this type serves (`gpt-4o` → the provider named like the type): routing asks every module,
   * so a new provider brings its own families.
   */
  family?: RegExp;
  /** The environment variable whose presence makes this provider exist without a config section (OPENAI_API_KEY). */
  envKey?: string;
  /** TypeBox schema of the keys this type adds to the common provider keys. */
  options: Record<string, TSchema>;
  /** Fill in keys from the environment; return a reason when the provider cannot be used (it is then skipped). */
  resolve(name: string, cfg: C, ctx: ProviderContext): { cfg: C; inactive?: string };
  /** `limits`: what any upstream may send (server.max_response_size), the same for every provider. */
  create(name: string, cfg: C, limits: UpstreamLimits): Provider;
}
