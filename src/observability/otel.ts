// The OpenTelemetry-backed Tracing (see tracing.ts), loaded by a dynamic import only when tracing is configured.
// Spans follow the OpenTelemetry GenAI semantic conventions: a SERVER span per request, a CLIENT span per upstream
// attempt (`chat {model}` / `embeddings {model}`), an INTERNAL `execute_tool {name}` span per MCP tool call. Export is
// OTLP/HTTP protobuf through a bounded BatchSpanProcessor: a slow or dead collector drops spans (counted), never waits.
import { type Attributes, type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type TextMapGetter, type TextMapSetter, trace, type Tracer } from "@opentelemetry/api";
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Span as SdkSpan,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import type { Config } from "../config/schema.ts";
import type { AlloyError } from "../errors.ts";
import type { ChatRequest } from "../openai/schema.ts";
import { ROUTES } from "../routes.ts";
import type { AccessRecord } from "./access.ts";
import { inputMessages, outputMessages } from "./genai-content.ts";
import type { AttemptTrace, GenAiOperation, RequestTrace, ToolTrace, Tracing, TracingConfig } from "./tracing.ts";

/** Epoch ms, sub-millisecond: every span's times come from this one clock (the SDK's own rounds to the ms). */
const now = () => performance.timeOrigin + performance.now();

/** `gen_ai.provider.name` by provider type (the conventions' well-known values; `mock` is Alloy's own). */
const GENAI_PROVIDER: Record<string, string> = { openai: "openai", anthropic: "anthropic", bedrock: "aws.bedrock", mock: "mock" };

interface ProviderFacts {
  genAi: string;
  address: string | undefined;
  port: number | undefined;
}

/** Per configured provider, once at startup: its GenAI name and the host it calls. */
export function providerFacts(config: Config): Map<string, ProviderFacts> {
  const out = new Map<string, ProviderFacts>();
  for (const [name, cfg] of Object.entries(config.providers)) {
    let url = cfg.base_url ?? (cfg.endpoint as string | undefined);
    if (!url && cfg.type === "bedrock" && typeof cfg.region === "string") url = `https://bedrock-runtime.${cfg.region}.amazonaws.com`;
    let address: string | undefined;
    let port: number | undefined;
    if (url) {
      try {
        const u = new URL(url);
        address = u.hostname;
        port = u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
      } catch {
        // not a URL: no server.address
      }
    }
    out.set(name, { genAi: GENAI_PROVIDER[cfg.type] ?? cfg.type, address, port });
  }
  return out;
}

const headerGetter: TextMapGetter<Headers> = {
  get: (h, key) => h.get(key) ?? undefined,
  keys: (h) => [...h.keys()],
};
const recordSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * Counts what never reaches the collector: spans the processor's queue had no room for, and spans of failed exports.
 * The BatchSpanProcessor removes spans from its queue only to hand them to the exporter, so "queued" is exactly the
 * spans handed to it and not yet to the exporter; at `maxQueueSize` it drops the next one.
 */
class CountingExporter implements SpanExporter {
  queued = 0;
  constructor(
    private readonly inner: SpanExporter,
    private readonly dropped: (n: number) => void,
  ) {}
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.queued -= spans.length;
    try {
      this.inner.export(spans, (r) => {
        if (r.code !== ExportResultCode.SUCCESS) this.dropped(spans.length);
        done(r);
      });
    } catch (e) {
      this.dropped(spans.length);
      done({ code: ExportResultCode.FAILED, error: e instanceof Error ? e : new Error(String(e)) });
    }
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

class CountingProcessor implements SpanProcessor {
  private closed = false;
  constructor(
    private readonly inner: BatchSpanProcessor,
    private readonly exporter: CountingExporter,
    private readonly maxQueueSize: number,
    private readonly dropped: (n: number) => void,
  ) {}
  onStart(span: SdkSpan, ctx: Context): void {
    this.inner.onStart(span, ctx);
  }
  onEnd(span: ReadableSpan): void {
    if (this.closed || (span.spanContext().traceFlags & 1) === 0) return;
    if (this.exporter.queued >= this.maxQueueSize) this.dropped(1);
    else this.exporter.queued++;
    this.inner.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    this.closed = true;
    return this.inner.shutdown();
  }
}

export interface OtelOptions {
  /** Spans lost (queue full, failed export): alloy_trace_spans_dropped_total. */
  onDropped?: (n: number) => void;
  /** For tests: another exporter than OTLP/HTTP. */
  exporter?: SpanExporter;
  /** `service.version` of the resource. */
  version?: string;
}

export function createOtelTracing(tc: TracingConfig, config: Config, opts: OtelOptions = {}): Tracing {
  const dropped = opts.onDropped ?? (() => {});
  const otlp =
    opts.exporter ??
    new OTLPTraceExporter({ url: tc.url, timeoutMillis: tc.exportTimeoutMs, concurrencyLimit: 2, headers: {} });
  const exporter = new CountingExporter(otlp, dropped);
  const batch = new BatchSpanProcessor({
    exporter,
    maxQueueSize: tc.maxQueueSize,
    maxExportBatchSize: Math.min(512, tc.maxQueueSize),
    scheduledDelayMillis: tc.scheduledDelayMs,
    exportTimeoutMillis: tc.exportTimeoutMs,
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": tc.serviceName, "service.version": opts.version ?? "unknown" }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(tc.samplerRatio) }),
    spanProcessors: [new CountingProcessor(batch, exporter, tc.maxQueueSize, dropped)],
    // Bounded spans: a long tool loop cannot grow one without limit.
    spanLimits: { eventCountLimit: 128, attributeValueLengthLimit: 64 * 1024 },
  });
  const tracer = provider.getTracer("alloy");
  const propagator = new W3CTraceContextPropagator();
  const facts = providerFacts(config);
  const capture = tc.captureContent;

  const parentOf = (request: Request): Context =>
    request.headers.has("traceparent") ? propagator.extract(ROOT_CONTEXT, request.headers, headerGetter) : ROOT_CONTEXT;

  return {
    enabled: true,
    request(request, route, requestId, start) {
      const span = tracer.startSpan(
        `${request.method} ${route}`,
        {
          kind: SpanKind.SERVER,
          startTime: performance.timeOrigin + start,
          attributes: { "http.request.method": request.method, "http.route": route, "alloy.request_id": requestId },
        },
        parentOf(request),
      );
      return new OtelRequestTrace(tracer, propagator, span, facts, route === ROUTES.embeddings ? "embeddings" : "chat", capture);
    },
    served(request, rec) {
      const end = now();
      const span = tracer.startSpan(
        `${request.method} ${rec.route}`,
        { kind: SpanKind.SERVER, startTime: end - rec.durationMs, attributes: { "http.request.method": request.method, "http.route": rec.route } },
        parentOf(request),
      );
      finishServer(span, rec);
      span.end(end);
    },
    async shutdown() {
      await provider.shutdown().catch(() => {});
    },
  };
}

function finishServer(span: Span, rec: AccessRecord): void {
  if (rec.requestId) span.setAttribute("alloy.request_id", rec.requestId);
  span.setAttribute("http.response.status_code", rec.status);
  if (rec.status >= 500 || rec.error) {
    span.setAttribute("error.type", rec.error ?? String(rec.status));
    // A SERVER span is an error only for 5xx (the HTTP conventions): a client's 4xx is its own mistake.
    if (rec.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: rec.errorMessage });
  }
}


class OtelAttempt implements AttemptTrace {
  readonly headers: Record<string, string> = {};
  /** Epoch ms when the attempt ended, its span still open to take the answer's usage (the last attempt). */
  endedAt: number | undefined;
  ok = false;
  closed = false;
  constructor(
    readonly span: Span,
    private readonly owner: OtelRequestTrace,
  ) {}
  end(error: AlloyError | undefined): void {
    if (this.closed || this.endedAt !== undefined) return;
    this.endedAt = now();
    if (error) {
      this.span.setAttribute("error.type", error.kind);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      this.close();
    } else {
      this.ok = true;
      // The last attempt keeps its span open until the request ends: usage and finish reason come from the route.
      if (this.owner.last !== this) this.close();
    }
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.span.end(this.endedAt ?? now());
  }
}

class OtelRequestTrace implements RequestTrace {
  last: OtelAttempt | undefined;
  private readonly ctx: Context;
  private ended = false;
  private params: Attributes | undefined;
  private responseModel: string | undefined;
  private output: unknown;
  private finish: string | null | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly propagator: W3CTraceContextPropagator,
    private readonly span: Span,
    private readonly facts: Map<string, ProviderFacts>,
    private readonly operation: GenAiOperation,
    readonly capture: boolean,
  ) {
    this.ctx = trace.setSpan(ROOT_CONTEXT, span);
  }

  attempt(provider: string, model: string): AttemptTrace {
    // A newer attempt: the previous one is no longer the last, so its span ends now (at its own end time).
    const prev = this.last;
    const f = this.facts.get(provider);
    const attrs: Attributes = {
      "gen_ai.operation.name": this.operation,
      "gen_ai.provider.name": f?.genAi ?? provider,
      "gen_ai.request.model": model,
      "alloy.provider": provider,
      ...this.params,
    };
    if (f?.address) {
      attrs["server.address"] = f.address;
      attrs["server.port"] = f.port;
    }
    const span = this.tracer.startSpan(`${this.operation} ${model}`, { kind: SpanKind.CLIENT, startTime: now(), attributes: attrs }, this.ctx);
    const a = new OtelAttempt(span, this);
    this.last = a;
    if (prev && prev.endedAt !== undefined) prev.close();
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), a.headers, recordSetter);
    return a;
  }

  event(name: string, attrs?: Record<string, string | number | boolean>): void {
    if (!this.ended) this.span.addEvent(name, attrs);
  }

  tool(server: string, tool: string, name: string, args?: unknown): ToolTrace {
    const attrs: Attributes = {
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": name,
      "gen_ai.tool.type": "extension",
      "alloy.mcp.server": server,
      "alloy.mcp.tool": tool,
    };
    if (this.capture && args !== undefined) attrs["gen_ai.tool.call.arguments"] = json(args);
    const span = this.tracer.startSpan(`execute_tool ${name}`, { kind: SpanKind.INTERNAL, startTime: now(), attributes: attrs }, this.ctx);
    const capture = this.capture;
    return {
      end(error, isError, result) {
        if (error) {
          span.setAttribute("error.type", error.kind);
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        } else if (isError) {
          span.setAttribute("error.type", "tool_error");
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        if (capture && result !== undefined) span.setAttribute("gen_ai.tool.call.result", json(result));
        span.end(now());
      },
    };
  }

  chat(req: ChatRequest): void {
    const p: Attributes = {};
    const max = req.max_completion_tokens ?? req.max_tokens;
    if (typeof max === "number") p["gen_ai.request.max_tokens"] = max;
    if (typeof req.temperature === "number") p["gen_ai.request.temperature"] = req.temperature;
    if (typeof req.top_p === "number") p["gen_ai.request.top_p"] = req.top_p;
    if (this.capture) p["gen_ai.input.messages"] = json(inputMessages(req.messages));
    this.params = p;
    // Attempts that started before the request was decoded (none today) would miss them: set on the latest too.
    if (this.last && !this.last.closed) this.last.span.setAttributes(p);
  }

  answer(model: string | undefined, message?: unknown, finishReason?: string | null): void {
    if (model) this.responseModel = model;
    if (this.capture && message !== undefined) {
      this.output = message;
      this.finish = finishReason;
    }
  }

  end(rec: AccessRecord): void {
    if (this.ended) return;
    this.ended = true;
    const a = this.last;
    if (a && !a.closed) {
      const s = a.span;
      if (a.ok) {
        if (this.responseModel) s.setAttribute("gen_ai.response.model", this.responseModel);
        const u = rec.usage;
        if (u) {
          s.setAttribute("gen_ai.usage.input_tokens", u.prompt_tokens);
          s.setAttribute("gen_ai.usage.output_tokens", u.completion_tokens);
        }
        if (rec.finishReason) s.setAttribute("gen_ai.response.finish_reasons", [rec.finishReason]);
        if (this.output !== undefined) s.setAttribute("gen_ai.output.messages", json(outputMessages(this.output, this.finish ?? rec.finishReason)));
      } else if (a.endedAt === undefined) {
        // Still in flight when the request ended (cut by a deadline, the client gone, a failed stream).
        if (rec.error) s.setAttribute("error.type", rec.error);
        s.setStatus({ code: SpanStatusCode.ERROR, message: rec.errorMessage });
      }
      a.close();
    }
    finishServer(this.span, rec);
    this.span.end(now());
  }
}

function json(v: unknown): string {
  try {
    return JSON.stringify(v) ?? "null";
  } catch {
    return '"[unserialisable]"';
  }
}
