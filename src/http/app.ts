// The Elysia app: routes, x-request-id on every response, Elysia's own failures mapped to OpenAI's error shape.
import { Elysia } from "elysia";
import { AlloyError } from "../errors.ts";
import type { Gateway } from "../gateway/gateway.ts";
import { observed, simpleRecord, type RequestObserver } from "../observability/access.ts";
import type { GatewayMetrics } from "../observability/gateway-metrics.ts";
import { GatewayAuth, rawPath } from "./auth.ts";
import { chatHandler } from "./chat.ts";
import { countTokensHandler, messagesHandler } from "./messages.ts";
import { errorResponse } from "./errors.ts";
import { json } from "./json.ts";
import type { McpManager } from "../mcp/servers.ts";
import { mcpRoutes } from "./mcp-routes.ts";
import { metricsRoute } from "./metrics-route.ts";

export interface AppDeps {
  gateway: Gateway;
  observer: RequestObserver;
  /** Serve GET /metrics when set (config.metrics). */
  metrics?: GatewayMetrics;
  /** MCP servers: tools for chat requests, the /v1/mcp routes, their state in /ready. */
  mcp?: McpManager;
  /** Extra readiness conditions (MCP servers): each returns a reason when not ready. */
  readiness?: Array<() => string[]>;
  startedAt?: number;
}

const JSON_TYPE = "application/json";

// Starts at 10^12, so the decimal counter is always 13 digits (sortable) without padding, for 9·10^12 requests.
let counter = 1e12;
const prefix = `req_${crypto.randomUUID().slice(0, 8)}`;
/** Unique, cheap, sortable within a process: no crypto per request. */
export function newRequestId(): string {
  return prefix + counter++;
}

function requestIdOf(request: Request): string {
  const given = request.headers.get("x-request-id");
  // Honour the client's id when it is sane; never echo something that could break a header or a log line.
  return given && given.length <= 200 && /^[\x21-\x7e]+$/.test(given) ? given : newRequestId();
}

export function modelList(gateway: Gateway, created: number) {
  const data: Array<{ id: string; object: "model"; created: number; owned_by: string }> = [];
  for (const alias of gateway.router.aliasNames) data.push({ id: alias, object: "model", created, owned_by: "alloy" });
  for (const [name, cfg] of Object.entries(gateway.config.providers))
    for (const m of cfg.models ?? []) data.push({ id: `${name}/${m}`, object: "model", created, owned_by: name });
  return { object: "list" as const, data };
}

/** Errors that escaped a handler (or came from Elysia itself) as OpenAI error responses. */
function failure(code: unknown, error: unknown, request: Request, id: string): Response {
  if (error instanceof AlloyError) return errorResponse(error, id);
  if (code === "NOT_FOUND")
    return errorResponse(new AlloyError("not_found", `Unknown route ${request.method} ${rawPath(request.url).slice(0, 200)}`, { code: "unknown_url" }), id);
  if (code === "PARSE" || code === "VALIDATION" || code === "INVALID_COOKIE_SIGNATURE")
    return errorResponse(new AlloyError("bad_request", "Invalid request"), id);
  return errorResponse(new AlloyError("server", "Internal gateway error", { status: 500, type: "server_error", code: "internal_error" }), id);
}

export function createApp(deps: AppDeps) {
  const { gateway } = deps;
  const auth = new GatewayAuth(gateway.config.server);
  const chat = chatHandler({ ...deps, auth });
  const messages = messagesHandler({ ...deps, auth });
  const countTokens = countTokensHandler({ ...deps, auth });
  const mcp = mcpRoutes({
    mcp: deps.mcp,
    config: gateway.config.mcp,
    maxBodySize: gateway.config.server.max_body_size,
    readTimeoutMs: gateway.config.server.read_timeout_secs * 1000,
    observer: deps.observer,
  });
  const created = Math.floor((deps.startedAt ?? Date.now()) / 1000);
  const modelData = modelList(gateway, created);
  const models = JSON.stringify(modelData);
  // A key restricted to some models sees only those in /v1/models (computed once per key label).
  const modelsByKey = new Map<string, string>();
  const modelsFor = (request: Request): string => {
    const caller = auth.callerOf(request);
    if (!caller?.models) return models;
    let body = modelsByKey.get(caller.label);
    if (body === undefined) {
      body = JSON.stringify({ ...modelData, data: modelData.data.filter((m) => auth.listsModel(caller, m.id)) });
      modelsByKey.set(caller.label, body);
    }
    return body;
  };
  const health = JSON.stringify({ status: "ok" });

  // Before routing, for every route (plugins' too): gateway keys, and the metrics key for /metrics. Registered only
  // when there is something to guard: an idle hook still costs every request its call.
  const app = new Elysia();
  if (auth.guarding)
    app.onRequest(({ request }) => {
      const id = requestIdOf(request);
      const denied = auth.guard(request, id);
      if (denied) deps.observer.end({ ...simpleRecord(id, request.method, "unauthorized", denied.status, 0), error: "auth" });
      return denied;
    });
  return app
    .get("/health", observed(deps.observer, "/health", ({ request }) => new Response(health, { headers: { "content-type": JSON_TYPE, "x-request-id": requestIdOf(request) } })))
    .get("/ready", observed(deps.observer, "/ready", ({ request }) => {
      const reasons: string[] = [];
      if (gateway.upstreams.size === 0) reasons.push("no provider is active");
      for (const check of deps.readiness ?? []) reasons.push(...check());
      const providers = [...gateway.upstreams.keys()];
      const servers = deps.mcp ? { mcp_servers: deps.mcp.status() } : {};
      return reasons.length
        ? json({ status: "not_ready", providers, ...servers, reasons }, requestIdOf(request), 503)
        : json({ status: "ready", providers, ...servers }, requestIdOf(request));
    }))
    .get("/v1/models", observed(deps.observer, "/v1/models", ({ request }) => new Response(modelsFor(request), { headers: { "content-type": JSON_TYPE, "x-request-id": requestIdOf(request) } })))
    .use(metricsRoute(deps.metrics, deps.observer, requestIdOf))
    .post("/v1/chat/completions", ({ request, server }) => chat(request, server, requestIdOf(request)), { parse: "none" })
    .post("/v1/messages", ({ request, server }) => messages(request, server, requestIdOf(request)), { parse: "none" })
    .post("/v1/messages/count_tokens", ({ request, server }) => countTokens(request, server, requestIdOf(request)), { parse: "none" })
    // Claude Code probes the base URL before it starts.
    .head("/", ({ request }) => new Response(null, { headers: { "x-request-id": requestIdOf(request) } }))
    .get("/v1/mcp/tools", observed(deps.observer, "/v1/mcp/tools", ({ request }) => mcp.list(requestIdOf(request))))
    .post("/v1/mcp/tools/call", ({ request }) => mcp.call(request, requestIdOf(request)), { parse: "none" })
    .onError(({ code, error, request }) => {
      const id = requestIdOf(request);
      const res = failure(code, error, request, id);
      // Unknown paths are client input: their access record says "unmatched", not the path.
      // rawPath, not new URL(): with a Host header Bun cannot use, request.url is a bare path and new URL() throws.
      const route = code === "NOT_FOUND" ? "unmatched" : rawPath(request.url);
      const rec = simpleRecord(id, request.method, route, res.status, 0);
      if (error instanceof AlloyError) Object.assign(rec, { error: error.kind, errorMessage: error.message });
      deps.observer.end(rec);
      return res;
    });
}
