// The tracing interface the request path calls. With tracing off it is NO_TRACING: `request()` returns undefined, so
// a request carries no trace object and every hook below is skipped by one `?.` (no allocation, no call). With
// tracing on, otel.ts (loaded by a dynamic import only then, with the OpenTelemetry SDK) implements it. Nothing here
// imports OpenTelemetry.
import type { AlloyError } from "../errors.ts";
import type { ChatRequest } from "../openai/schema.ts";
import type { AccessRecord, RequestObserver } from "./access.ts";

/** The GenAI operation of a model route's upstream calls (`gen_ai.operation.name`). */
export type GenAiOperation = "chat" | "embeddings";

/** One upstream attempt: a CLIENT span, child of the request's SERVER span. */
export interface AttemptTrace {
  /** `traceparent` (and `tracestate`) for the upstream call: the attempt's span as its parent. */
  readonly headers: Record<string, string>;
  /** The attempt ended (its slot released): with its failure, or none when it answered. */
  end(error: AlloyError | undefined): void;
}

/** One MCP tool call: an `execute_tool {name}` span. */
export interface ToolTrace {
  /** `result` is recorded only when content capture is on. */
  end(error: AlloyError | undefined, isError: boolean, result?: unknown): void;
}

/** One request's trace: its SERVER span and the hooks that add to it. Lives on the request's RequestControl. */
export interface RequestTrace {
  /** True when prompts, answers and tool data may be recorded (`capture_content = true`). */
  readonly capture: boolean;
  /** An upstream attempt starts on `provider` (config name) for `model` (the id sent upstream). */
  attempt(provider: string, model: string): AttemptTrace;
  /** A span event: `alloy.retry`, `alloy.backoff`, `alloy.failover`, `alloy.hedge`, `alloy.queued`. */
  event(name: string, attrs?: Record<string, string | number | boolean>): void;
  /** An MCP tool call starts (`name`: as the model sees it). `args` are recorded only with capture on. */
  tool(server: string, tool: string, name: string, args?: unknown): ToolTrace;
  /** The unified request: max_tokens, temperature, and the input messages when capture is on. */
  chat(req: ChatRequest): void;
  /** The answer as the client gets it: `gen_ai.response.model` and, with capture on, the output message. */
  answer(model: string | undefined, message?: unknown, finishReason?: string | null): void;
  /** The request ended (after its last byte): status, usage, finish reason, error; every span still open ends. */
  end(rec: AccessRecord): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /**
   * A SERVER span for a request on `route`, continuing the client's `traceparent`; undefined when tracing is off.
   * `start`: performance.now() at arrival.
   */
  request(request: Request, route: string, requestId: string, start: number): RequestTrace | undefined;
  /** A request already over (routes with no upstream, errors before routing): its span, back-dated by its duration. */
  served(request: Request, rec: AccessRecord): void;
  /** Export what is queued (shutdown), within the export timeout. */
  shutdown(): Promise<void>;
}

export const NO_TRACING: Tracing = {
  enabled: false,
  request: () => undefined,
  served() {},
  shutdown: () => Promise.resolve(),
};

/**
 * The request observer, plus a back-dated SERVER span for every request whose route made none of its own (health,
 * models, metrics, errors before routing: they hand `request` to `end`). Used only when tracing is on.
 */
export function withServedSpans<O extends RequestObserver>(inner: O, tracing: Tracing): O {
  const out = Object.create(inner) as O;
  out.end = (rec, request) => {
    if (request) tracing.served(request, rec);
    inner.end(rec);
  };
  return out;
}

/** What `[observability.tracing]` and the OTEL_* variables resolve to (see config/load.ts). */
export interface TracingConfig {
  /** The full traces URL (`…/v1/traces`). */
  url: string;
  serviceName: string;
  /** Head sampling ratio for new traces (a client's sampled flag is followed). */
  samplerRatio: number;
  captureContent: boolean;
  /** Spans held for export at most; past it new spans are dropped (and counted). */
  maxQueueSize: number;
  /** One export's bound, ms. */
  exportTimeoutMs: number;
  /** Delay between scheduled exports, ms. */
  scheduledDelayMs: number;
}
