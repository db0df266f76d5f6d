// The config.toml schema. Every key users may write is here; anything else is rejected at startup.
import { Type as T, type Static } from "@sinclair/typebox";
import type { TracingConfig } from "../observability/tracing.ts";

const Closed = { additionalProperties: false } as const;
const PosInt = (d: number) => T.Integer({ minimum: 1, default: d });
const StrList = T.Array(T.String());
const BudgetPeriodName = T.Union([T.Literal("daily"), T.Literal("weekly"), T.Literal("monthly"), T.Literal("total")]);

/** `[server.keys.<label>]`: one gateway key and what it may do. */
export const GatewayKey = T.Object(
  {
    key: T.String({ minLength: 1 }),
    rpm: T.Optional(T.Integer({ minimum: 1, maximum: 100_000 })),
    /** Prompt + completion tokens in any sliding 60 s window. */
    tpm: T.Optional(T.Integer({ minimum: 1 })),
    max_concurrent: T.Optional(T.Integer({ minimum: 1 })),
    /** Aliases or `provider/model` ids this key may use (a trailing `*` matches a prefix); absent means all. */
    models: T.Optional(StrList),
    /** USD this key may spend per budget_period (default "total": never resets). */
    budget_usd: T.Optional(T.Number({ minimum: 0 })),
    budget_period: T.Optional(BudgetPeriodName),
    /** MCP servers whose tools, prompts and resources this key may see and use (/mcp, /v1/mcp/tools*, chat); absent means all. */
    mcp_servers: T.Optional(StrList),
    /** MCP tools this key may see and call, as `GET /v1/mcp/tools` names them (`<server>__<tool>`, a trailing `*` matches a prefix). */
    mcp_tools: T.Optional(StrList),
  },
  Closed,
);

export const ServerConfig = T.Object(
  {
    host: T.String({ default: "0.0.0.0" }),
    port: T.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
    timeout_secs: T.Number({ exclusiveMinimum: 0, default: 120 }),
    max_body_size: PosInt(10 * 1024 * 1024),
    /** Bytes of one upstream answer; past it reading stops and the client gets 502 upstream_error. */
    max_response_size: PosInt(32 * 1024 * 1024),
    /** Seconds to let in-flight requests finish on SIGTERM/SIGINT. */
    shutdown_grace_secs: T.Number({ minimum: 0, default: 30 }),
    /** Seconds a client may take to send its request body (and stay silent on an idle connection); fractions allowed. */
    read_timeout_secs: T.Number({ exclusiveMinimum: 0, maximum: 254, default: 30 }),
    api_keys: T.Optional(T.Array(T.String({ minLength: 1 }))),
    /** Labelled gateway keys with their own limits; the label (never the key) is what logs and errors show. */
    keys: T.Optional(T.Record(T.String(), GatewayKey)),
    /** When set, GET /metrics needs this key (Bearer). */
    metrics_api_key: T.Optional(T.String({ minLength: 1 })),
    /** When true, GET /metrics needs a gateway key (or metrics_api_key). */
    metrics_require_key: T.Boolean({ default: false }),
    /** Enables the admin API (/admin/*) for whoever presents it; also ALLOY_ADMIN_KEY. */
    admin_key: T.Optional(T.String({ minLength: 1 })),
  },
  Closed,
);

/** `[pricing."provider/model"]`: USD per million tokens; overrides or extends the built-in price table. */
export const PriceConfig = T.Object(
  {
    input: T.Number({ minimum: 0 }),
    output: T.Number({ minimum: 0, default: 0 }),
    cache_read: T.Optional(T.Number({ minimum: 0 })),
    cache_write: T.Optional(T.Number({ minimum: 0 })),
  },
  Closed,
);

/** Keys every provider has, whatever its type. Type-specific keys come from the provider modules. */
export const CommonProviderKeys = {
  type: T.Optional(T.String()),
  api_key: T.Optional(T.String()),
  base_url: T.Optional(T.String()),
  timeout_secs: T.Number({ exclusiveMinimum: 0, default: 60 }),
  max_concurrent: PosInt(64),
  /** The upstream's own request and token limits per minute (an org limit the whole fleet shares; shared in Redis
   * when store.redis_url is set). Past them the target is skipped like a busy one. */
  rpm: T.Optional(T.Integer({ minimum: 1 })),
  tpm: T.Optional(T.Integer({ minimum: 1 })),
  default_model: T.Optional(T.String()),
  models: T.Optional(StrList),
};
const CommonProvider = T.Object(CommonProviderKeys);
export type ProviderConfig = Static<typeof CommonProvider> & { type: string } & Record<string, unknown>;

export const GovernanceConfig = T.Object(
  {
    max_retries: T.Integer({ minimum: 0, maximum: 20, default: 3 }),
    failover_enabled: T.Boolean({ default: true }),
    fallback_order: T.Array(T.String(), { default: [] }),
    backoff_base_ms: T.Integer({ minimum: 0, default: 200 }),
    backoff_max_ms: T.Integer({ minimum: 0, default: 10_000 }),
    /** Consecutive retryable failures that take a load-balanced deployment out of rotation. */
    breaker_failures: PosInt(3),
    breaker_cooldown_secs: T.Number({ exclusiveMinimum: 0, default: 30 }),
  },
  Closed,
);

/** A load-balanced deployment inside an alias target list. */
export const Deployment = T.Object({ target: T.String(), weight: T.Optional(T.Number({ exclusiveMinimum: 0 })) }, Closed);
/** An alias target: one `provider/model`, or a list of equivalent deployments to spread over. */
export const AliasTarget = T.Union([T.String(), T.Array(T.Union([T.String(), Deployment]), { minItems: 1 })]);

export const ModelAlias = T.Object(
  {
    targets: T.Array(AliasTarget, { minItems: 1 }),
    mcp_servers: T.Optional(StrList),
    /** Start the next target as well when the current one has given no first byte after this many ms (one hedge). */
    hedge_after_ms: T.Optional(T.Integer({ minimum: 1, maximum: 600_000 })),
    /** How a deployment list is spread over: weighted least-busy (default) or least time to first byte. */
    strategy: T.Optional(T.Union([T.Literal("weighted"), T.Literal("least_latency")])),
  },
  Closed,
);

export const McpServerConfig = T.Object(
  {
    transport: T.Union([T.Literal("stdio"), T.Literal("sse"), T.Literal("streamable-http")], { default: "stdio" }),
    command: T.Optional(T.String()),
    args: T.Optional(StrList),
    env: T.Optional(T.Record(T.String(), T.String())),
    cwd: T.Optional(T.String()),
    url: T.Optional(T.String()),
    headers: T.Optional(T.Record(T.String(), T.String())),
  },
  { ...Closed, default: {} },
);

export const McpConfig = T.Object(
  {
    max_iterations: T.Integer({ minimum: 1, maximum: 100, default: 10 }),
    tool_timeout_secs: T.Number({ exclusiveMinimum: 0, default: 60 }),
    /** Sessions /mcp keeps at once; at the bound a new session displaces the least recently used idle one. */
    gateway_max_sessions: T.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
    /** Seconds a /mcp session may stay unused (no request, no open event stream) before it is closed; fractions allowed. */
    gateway_session_idle_secs: T.Number({ exclusiveMinimum: 0, default: 1800 }),
    servers: T.Record(T.String(), McpServerConfig, { default: {} }),
  },
  Closed,
);

/** `[store]`: where Alloy keeps stored responses, virtual keys and spend. */
export const StoreConfig = T.Object(
  {
    /** `sqlite://alloy.db` (relative to the working directory), `sqlite:///abs/path.db`, `sqlite://:memory:` or `postgres://…`. */
    url: T.String({ minLength: 1, default: "sqlite://alloy.db" }),
    /** Stored responses expire this many days after they were created. */
    responses_retention_days: T.Number({ exclusiveMinimum: 0, default: 30 }),
    /** `redis://…` (or `rediss://…`): key limits, budgets and provider rpm/tpm shared by every replica (docs/replicas.md). */
    redis_url: T.Optional(T.String({ pattern: "^(redis|rediss|valkey|valkeys)://" })),
    /** Redis unreachable: "open" serves on each replica's own counters, "closed" answers 503 to requests that need one. */
    on_error: T.Union([T.Literal("open"), T.Literal("closed")], { default: "open" }),
  },
  { ...Closed, default: {} },
);

/** `[observability.tracing]`: OTLP/HTTP trace export (docs/tracing.md); the OTEL_* variables apply too. */
export const TracingFileConfig = T.Object(
  {
    /** Base URL of the collector's OTLP/HTTP receiver: `/v1/traces` is appended (as with OTEL_EXPORTER_OTLP_ENDPOINT). */
    otlp_endpoint: T.Optional(T.String({ pattern: "^https?://" })),
    /** Record prompts, answers, tool arguments and results on spans. */
    capture_content: T.Boolean({ default: false }),
    /** Share of new traces sampled (a client's traceparent decides for its own trace). */
    sampler_ratio: T.Number({ minimum: 0, maximum: 1, default: 1 }),
    /** Spans waiting for export at most; past it new spans are dropped. */
    max_queue_size: T.Integer({ minimum: 1, maximum: 1_000_000, default: 2048 }),
    /** Bound on one export. */
    export_timeout_secs: T.Number({ exclusiveMinimum: 0, maximum: 300, default: 10 }),
    /** Delay between batched exports. */
    scheduled_delay_ms: T.Integer({ minimum: 1, maximum: 60_000, default: 1000 }),
  },
  Closed,
);

export const ObservabilityConfig = T.Object({ tracing: T.Optional(TracingFileConfig) }, Closed);

export const ConfigFile = T.Object(
  {
    server: T.Optional(ServerConfig),
    // Validated entry by entry against the schema of each provider's type (see load.ts).
    providers: T.Optional(T.Record(T.String(), T.Record(T.String(), T.Unknown()))),
    governance: T.Optional(GovernanceConfig),
    models: T.Optional(T.Record(T.String(), ModelAlias)),
    mcp: T.Optional(McpConfig),
    store: T.Optional(StoreConfig),
    pricing: T.Optional(T.Record(T.String(), PriceConfig)),
    observability: T.Optional(ObservabilityConfig),
  },
  Closed,
);

export type ServerConfig = Static<typeof ServerConfig>;
export type GatewayKey = Static<typeof GatewayKey>;
export type GovernanceConfig = Static<typeof GovernanceConfig>;
export type ModelAlias = Static<typeof ModelAlias>;
export type AliasTarget = Static<typeof AliasTarget>;
export type McpServerConfig = Static<typeof McpServerConfig>;
export type McpConfig = Static<typeof McpConfig>;
export type StoreConfig = Static<typeof StoreConfig>;
export type PriceConfig = Static<typeof PriceConfig>;
export type TracingFileConfig = Static<typeof TracingFileConfig>;

/** The validated, defaulted configuration the gateway runs with. */
export interface Config {
  file: string | null;
  server: ServerConfig;
  providers: Record<string, ProviderConfig>;
  /** Providers skipped at startup, with the reason (e.g. no API key). */
  inactive: Record<string, string>;
  governance: GovernanceConfig;
  models: Record<string, ModelAlias>;
  mcp: McpConfig;
  store: StoreConfig;
  /** `[pricing."provider/model"]` as written (see src/pricing/). */
  pricing: Record<string, PriceConfig>;
  log: { level: string; json: boolean };
  metrics: boolean;
  /** Trace export, when configured (file or OTEL_* variables); absent means tracing is off. */
  tracing?: TracingConfig;
}
