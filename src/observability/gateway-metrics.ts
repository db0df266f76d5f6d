// The gateway's metrics: what each request, upstream attempt and MCP tool call adds, and the gauges read from the
// limiters at scrape time. Label values are bounded (see labels.ts); series are created once and cached.
import type { Config } from "../config/schema.ts";
import { MODEL_ROUTES, ROUTE_LABELS } from "../routes.ts";
import type { AlloyError } from "../errors.ts";
import type { DispatchObserver, HedgeOutcome, Upstream } from "../gateway/dispatch.ts";
import type { AccessRecord } from "./access.ts";
import { DURATION_BUCKETS, TTFT_BUCKETS } from "./histogram.ts";
import { BoundedLabel, NONE, requestedModels, upstreamModels } from "./labels.ts";
import { Registry } from "./metrics.ts";

export interface GatewayMetrics {
  /** Handed to the Dispatcher: attempts, retries, failovers, hedges. */
  readonly dispatch: DispatchObserver;
  /** One finished HTTP request (any route; chat completions also count per provider and model). */
  request(rec: AccessRecord): void;
  /** One MCP tool call (the MCP manager's onToolCall hook). */
  mcpToolCall(server: string, tool: string, ms: number, isError: boolean): void;
  /** Trace spans lost before reaching the collector (queue full, failed export). */
  spansDropped(n: number): void;
  /** A shared store (Redis, or the database behind the key cache) failed a call: the request went on without it. */
  storeError(backend: "redis" | "database"): void;
  /** Report these providers' limiters (in flight, queued) at scrape time. */
  watch(upstreams: Map<string, Upstream>): void;
  /** The Prometheus text exposition. */
  render(): string;
}


/**
 * Series cached by up to three label values, one Map level per value: a lookup hashes the strings it is given and
 * builds no key string per request. `cap` bounds the entries (the values come from requests).
 */
class SeriesCache<S> {
  private readonly root = new Map<string | number | undefined, Map<unknown, Map<unknown, S>>>();
  private size = 0;
  constructor(private readonly cap: number) {}

  get(a: string | number | undefined, b: unknown, c: unknown): S | undefined {
    return this.root.get(a)?.get(b)?.get(c);
  }

  /** Remember `s` (unless full) and return it. */
  put(a: string | number | undefined, b: unknown, c: unknown, s: S): S {
    if (this.size >= this.cap) return s;
    let m1 = this.root.get(a);
    if (!m1) this.root.set(a, (m1 = new Map()));
    let m2 = m1.get(b);
    if (!m2) m1.set(b, (m2 = new Map()));
    m2.set(c, s);
    this.size++;
    return s;
  }
}

export function createGatewayMetrics(opts: { config: Config; version: string }): GatewayMetrics {
  const { config } = opts;
  let upstreams = new Map<string, Upstream>();
  const reg = new Registry();
  const providerL = new BoundedLabel([...Object.keys(config.providers), ...Object.keys(config.inactive)]);
  const requestedL = new BoundedLabel(requestedModels(config));
  // Models with a configured price are known by name too: their cost is what the metric is for.
  const upstreamL = new BoundedLabel([...upstreamModels(config), ...Object.keys(config.pricing).map((k) => k.slice(k.indexOf("/") + 1))]);
  const routeL = new BoundedLabel(ROUTE_LABELS);
  const mcpServerL = new BoundedLabel(Object.keys(config.mcp.servers));
  const toolL = new BoundedLabel([], 512);
  const keyL = new BoundedLabel([...(config.server.api_keys ?? []).map((_, i) => `api_keys[${i}]`), ...Object.keys(config.server.keys ?? {}), "anonymous"], 1000);

  const http = reg.counter("alloy_http_requests_total", "HTTP requests served, by route and status.", ["route", "status"]);
  const requests = reg.counter("alloy_requests_total", "Model requests (every model route), by answering provider, requested model, status and route.", [
    "provider",
    "model",
    "status",
    "route",
  ]);
  const duration = reg.histogram("alloy_request_duration_seconds", "Chat completion time from arrival to the last byte.", ["provider", "model"], DURATION_BUCKETS);
  const ttft = reg.histogram("alloy_time_to_first_token_seconds", "Streams: time from arrival to the first chunk sent.", ["provider", "model"], TTFT_BUCKETS);
  const tokens = reg.counter("alloy_tokens_total", "Tokens reported by upstreams, by provider, upstream model and type.", ["provider", "model", "type"]);
  const attempts = reg.histogram(
    "alloy_upstream_attempt_duration_seconds",
    "One upstream call (for a stream, until it ends), by provider, upstream model and outcome (ok or error kind).",
    ["provider", "model", "outcome"],
    DURATION_BUCKETS,
  );
  const cost = reg.counter("alloy_cost_usd_total", "USD spent on answered requests (src/pricing/), by provider, upstream model and key.", ["provider", "model", "key"]);
  const unpriced = reg.counter("alloy_unpriced_requests_total", "Answered requests whose model has no price (they cost 0), by provider and upstream model.", [
    "provider",
    "model",
  ]);
  const retries = reg.counter("alloy_retries_total", "Retries of an upstream call after a retryable failure.", ["provider"]);
  const failovers = reg.counter("alloy_failovers_total", "Failovers from one provider to the next.", ["from", "to"]);
  const hedges = reg.counter("alloy_hedges_total", "Hedged requests, by alias and outcome (won: the hedge answered first; lost; skipped: no free slot).", [
    "alias",
    "outcome",
  ]);
  reg.gauge("alloy_upstream_in_flight", "Upstream requests holding a concurrency slot.", ["provider"], () =>
    [...upstreams].map(([name, up]) => [[name], up.limiter.inFlight]),
  );
  reg.gauge("alloy_upstream_queue_depth", "Requests waiting for a concurrency slot.", ["provider"], () =>
    [...upstreams].map(([name, up]) => [[name], up.limiter.queued]),
  );
  reg.gauge("alloy_upstream_max_concurrent", "Configured max_concurrent per provider.", ["provider"], () =>
    [...upstreams].map(([name, up]) => [[name], up.limiter.max]),
  );
  const mcpCalls = reg.counter("alloy_mcp_tool_calls_total", "MCP tool calls, by server, tool and status (ok or error).", ["server", "tool", "status"]);
  const mcpDuration = reg.histogram("alloy_mcp_tool_call_duration_seconds", "MCP tool call duration.", ["server", "tool"], DURATION_BUCKETS);
  const storeErrors = reg.counter("alloy_store_errors_total", "Calls to a shared store that failed (redis: shared limits; database: key lookups), by backend.", ["backend"]);
  const spansDropped = reg
    .counter("alloy_trace_spans_dropped_total", "Trace spans dropped before export: the export queue was full or an export failed.", [])
    .labels();
  reg.gauge("alloy_build_info", "Alloy version.", ["version"], () => [[[opts.version], 1]]);
  const startedAt = Date.now() / 1000;
  reg.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.", [], () => [[[], startedAt]]);
  reg.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", [], () => [[[], process.memoryUsage.rss()]]);

  // The hot path: every series a request touches is looked up once per label combination and cached in a bundle,
  // so a finished request costs one Map lookup and a few increments, not a string join per metric.
  interface ChatSeries {
    duration: ReturnType<typeof duration.labels>;
    ttft: ReturnType<typeof ttft.labels>;
    prompt: ReturnType<typeof tokens.labels>;
    completion: ReturnType<typeof tokens.labels>;
    /** By route, then status. */
    byStatus: Map<string, Map<number, ReturnType<typeof requests.labels>>>;
    /** By key. */
    cost: Map<string | undefined, ReturnType<typeof cost.labels>>;
    unpriced?: ReturnType<typeof unpriced.labels>;
  }
  const chatSeries = new SeriesCache<ChatSeries>(4 * 2000);
  const seriesFor = (rec: AccessRecord): ChatSeries => {
    const hit = chatSeries.get(rec.provider, rec.model, rec.upstreamModel);
    if (hit) return hit;
    const provider = rec.provider === undefined ? NONE : providerL.of(rec.provider);
    const model = requestedL.of(rec.model);
    const m = upstreamL.of(rec.upstreamModel);
    return chatSeries.put(rec.provider, rec.model, rec.upstreamModel, {
      duration: duration.labels(provider, model),
      ttft: ttft.labels(provider, model),
      prompt: tokens.labels(provider, m, "prompt"),
      completion: tokens.labels(provider, m, "completion"),
      byStatus: new Map(),
      cost: new Map(),
    });
  };
  const httpSeries = new SeriesCache<ReturnType<typeof http.labels>>(2000);
  const attemptSeries = new SeriesCache<ReturnType<typeof attempts.labels>>(4 * 2000);

  const dispatch: DispatchObserver = {
    attempt(provider: string, model: string, ms: number, error: AlloyError | undefined) {
      const outcome = error ? error.kind : "ok";
      const h =
        attemptSeries.get(provider, model, outcome) ??
        attemptSeries.put(provider, model, outcome, attempts.labels(providerL.of(provider), upstreamL.of(model), outcome));
      h.observe(ms / 1000);
    },
    retry(provider: string) {
      retries.labels(providerL.of(provider)).inc();
    },
    failover(from: string, to: string) {
      failovers.labels(providerL.of(from), providerL.of(to)).inc();
    },
    hedge(alias: string, outcome: HedgeOutcome) {
      hedges.labels(requestedL.of(alias), outcome).inc();
    },
  };

  return {
    dispatch,
    request(rec) {
      const hc = httpSeries.get(rec.route, rec.status, undefined) ?? httpSeries.put(rec.route, rec.status, undefined, http.labels(routeL.of(rec.route), String(rec.status)));
      hc.inc();
      if (!MODEL_ROUTES.has(rec.route)) return;
      const b = seriesFor(rec);
      let byStatus = b.byStatus.get(rec.route);
      if (!byStatus) b.byStatus.set(rec.route, (byStatus = new Map()));
      let rc = byStatus.get(rec.status);
      if (!rc) {
        rc = requests.labels(rec.provider === undefined ? NONE : providerL.of(rec.provider), requestedL.of(rec.model), String(rec.status), rec.route);
        byStatus.set(rec.status, rc);
      }
      rc.inc();
      b.duration.observe(rec.durationMs / 1000);
      if (rec.stream && rec.ttfbMs !== undefined) b.ttft.observe(rec.ttfbMs / 1000);
      const u = rec.usage;
      if (u) {
        if (u.prompt_tokens) b.prompt.inc(u.prompt_tokens);
        if (u.completion_tokens) b.completion.inc(u.completion_tokens);
      }
      if (rec.costUsd !== undefined) {
        const provider = rec.provider === undefined ? NONE : providerL.of(rec.provider);
        const m = upstreamL.of(rec.upstreamModel);
        if (rec.costUsd > 0) {
          let byKey = b.cost.get(rec.key);
          if (!byKey) b.cost.set(rec.key, (byKey = cost.labels(provider, m, keyL.of(rec.key ?? "anonymous"))));
          byKey.inc(rec.costUsd);
        }
        if (rec.unpriced) (b.unpriced ??= unpriced.labels(provider, m)).inc();
      }
    },
    mcpToolCall(server, tool, ms, isError) {
      const s = mcpServerL.of(server);
      const t = toolL.of(tool);
      mcpCalls.labels(s, t, isError ? "error" : "ok").inc();
      mcpDuration.labels(s, t).observe(ms / 1000);
    },
    storeError(backend) {
      storeErrors.labels(backend).inc();
    },
    spansDropped(n) {
      spansDropped.inc(n);
    },
    watch(u) {
      upstreams = u;
    },
    render: () => reg.render(),
  };
}
