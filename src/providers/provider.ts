// The contract every upstream adapter implements: one unified request in, a unified response or a stream of unified
// chunks out, failures thrown as AlloyError (kind says whether governance may retry). Nothing here knows HTTP routing.
import type { TSchema } from "@sinclair/typebox";
import type { ChatChunk, ChatRequest, ChatResponse } from "../openai/schema.ts";
import type { UpstreamLimits } from "./upstream.ts";

/**
 * A response object may carry the exact JSON text it was parsed from under this key (non-enumerable). The HTTP layer
 * sends that text as is when the object went out unchanged, saving a re-serialisation on the passthrough path.
 */
export const RAW_BODY = Symbol("alloy.rawBody");

export interface CallOptions {
  /** The model id at this provider (prefix and alias already resolved). */
  model: string;
  /** Aborts on client disconnect, per-attempt timeout or the request deadline. */
  signal: AbortSignal;
  requestId: string;
}

export interface Provider {
  readonly name: string;
  readonly type: string;
  chat(req: ChatRequest, o: CallOptions): Promise<ChatResponse>;
  /** Chunks in OpenAI shape; the last one carries finish_reason, a usage-only chunk may follow. */
  chatStream(req: ChatRequest, o: CallOptions): AsyncIterable<ChatChunk>;
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
  /** TypeBox schema of the keys this type adds to the common provider keys. */
  options: Record<string, TSchema>;
  /** Fill in keys from the environment; return a reason when the provider cannot be used (it is then skipped). */
  resolve(name: string, cfg: C, ctx: ProviderContext): { cfg: C; inactive?: string };
  /** `limits`: what any upstream may send (server.max_response_size), the same for every provider. */
  create(name: string, cfg: C, limits: UpstreamLimits): Provider;
}
