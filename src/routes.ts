// Every HTTP route Alloy serves, named once: the app registers them, the metrics bound their `route` label by them and
// the observer picks log levels by them.

export const ROUTES = {
  health: "/health",
  ready: "/ready",
  metrics: "/metrics",
  models: "/v1/models",
  chat: "/v1/chat/completions",
  messages: "/v1/messages",
  countTokens: "/v1/messages/count_tokens",
  responses: "/v1/responses",
  embeddings: "/v1/embeddings",
  mcpTools: "/v1/mcp/tools",
  mcpToolCall: "/v1/mcp/tools/call",
  mcp: "/mcp",
  admin: "/admin",
} as const;

/** Labels of records that match no route: unknown paths, and requests refused before routing. */
export const UNMATCHED = "unmatched";
export const UNAUTHORIZED = "unauthorized";

/** Routes that call a model: they count in the per-model request metrics. */
export const MODEL_ROUTES: ReadonlySet<string> = new Set([ROUTES.chat, ROUTES.messages, ROUTES.responses, ROUTES.embeddings]);

/** Probes and scrapes come every few seconds; their lines would drown the traffic, so they log at debug only. */
export const QUIET_ROUTES: ReadonlySet<string> = new Set([ROUTES.health, ROUTES.ready, ROUTES.metrics]);

/** Every route label a record may carry (a bounded set for metrics). */
export const ROUTE_LABELS: readonly string[] = [...Object.values(ROUTES), UNMATCHED, UNAUTHORIZED];
