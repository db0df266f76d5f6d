// The Elysia app: routes, x-request-id on every response, Elysia's own failures mapped to OpenAI's error shape.
import type { Server } from "bun";
import { Elysia } from "elysia";
import { AlloyError } from "../errors.ts";
import type { Gateway } from "../gateway/gateway.ts";
import { observed, simpleRecord, type RequestObserver } from "../observability/access.ts";
import type { GatewayMetrics } from "../observability/gateway-metrics.ts";
import type { Tracing } from "../observability/tracing.ts";
import type { KeyRule } from "../governance/keylimits.ts";
import { ROUTES, UNAUTHORIZED, UNMATCHED } from "../routes.ts";
import { GatewayAuth, rawPath } from "./auth.ts";
import { ingressRoutes } from "./ingress-routes.ts";
import type { IngressDeps } from "./ingress.ts";
import { storedRoutes } from "./responses.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "../observability/log.ts";
import { errorResponse } from "./errors.ts";
import { json } from "./json.ts";
import type { McpGateway } from "../mcp/gateway.ts";
import type { McpManager } from "../mcp/servers.ts";
import { mcpGatewayRoute } from "./mcp-gateway.ts";
import { mcpRoutes } from "./mcp-routes.ts";
import { metricsRoute } from "./metrics-route.ts";
import type { Accounting } from "../governance/accounting.ts";
import type { VirtualKeys } from "../keys/virtual.ts";
import { adminRoutes } from "./admin.ts";

/** Worked out once per request, before its handler runs. */
export type RequestFacts = {
  requestId: string;
  caller: KeyRule | undefined;
};
type Ctx = { request: Request } & RequestFacts;
type ModelCtx = Ctx & { server: Server<unknown> | null };

/**
 * The facts the guard left on the context, or worked out here when nothing is guarded. Its parameter is destructured
 * by name on purpose: Elysia builds per request only what a hook's parameter names (a whole-context parameter would
 * cost a cookie and query parse on every request).
 */
const deriveFacts = ({ request, requestId, caller }: { request: Request } & Partial<RequestFacts>): RequestFacts => ({
  requestId: requestId ?? requestIdOf(request),
  caller,
});

export interface AppDeps {
  gateway: Gateway;
  observer: RequestObserver;
  /** Serve GET /metrics when set (config.metrics). */
  metrics?: GatewayMetrics;
  /** MCP servers: tools for chat requests, the /v1/mcp routes, their state in /ready. */
  mcp?: McpManager;
  /** /mcp's sessions (present when MCP servers are configured). */
  mcpGateway?: McpGateway;
  /** The gateway keys; shared with whoever else admits requests under their limits (the /mcp gateway). */
  auth?: GatewayAuth;
  /** Extra readiness conditions (MCP servers): each returns a reason when not ready. */
  readiness?: Array<() => string[]>;
  /** Conditions that leave the gateway serving but not as configured (Redis away): /ready says "degraded", 200. */
  degraded?: Array<() => string[]>;
  startedAt?: number;
  /** Cost, tpm, budgets and spend (with the counters the guard's key limits use). */
  accounting?: Accounting;
  /** The virtual keys (the store's): callers of their own, and the admin API when server.admin_key is set. */
  virtualKeys?: VirtualKeys;
  /** Announce a key's change to the other replicas (Redis pub/sub), when they share a store. */
  announceKey?: (id: string) => void;
  /** Alloy's store: stored responses for /v1/responses, virtual keys and spend for /admin. */
  store?: Store;
  log?: Logger;
  /** Trace spans (observability/tracing.ts), when tracing is configured. */
  tracing?: Tracing;
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

/** The model routes of ingress-routes.ts, each handed the request's facts the app's derive worked out. */
function modelRoutes(deps: IngressDeps) {
  const app = new Elysia();
  for (const r of ingressRoutes) {
    const handle = r.handler(deps);
    // Destructured, not `(c) => …`: Elysia reads a handler's parameters to decide what to build per request, and a
    // whole-context parameter makes it parse cookies and the query string on every call.
    app.post(r.path, (({ request, server, requestId, caller }: ModelCtx) => handle(request, server, requestId, caller)) as never, { parse: "none" });
  }
  return app;
}

export function createApp(deps: AppDeps) {
  const { gateway } = deps;
  const auth =
    deps.auth ??
    new GatewayAuth(gateway.config.server, { virtual: deps.virtualKeys, limits: deps.accounting?.limits, budgets: deps.accounting?.budgets });
  const stored = storedRoutes(deps);
  const mcp = mcpRoutes({
    mcp: deps.mcp,
    config: gateway.config.mcp,
    maxBodySize: gateway.config.server.max_body_size,
    readTimeoutMs: gateway.config.server.read_timeout_secs * 1000,
    observer: deps.observer,
    auth,
    tracing: deps.tracing,
  });
  const mcpGateway = mcpGatewayRoute({
    gateway: deps.mcpGateway,
    maxBodySize: gateway.config.server.max_body_size,
    readTimeoutMs: gateway.config.server.read_timeout_secs * 1000,
    observer: deps.observer,
  });
  const readTimeoutMs = gateway.config.server.read_timeout_secs * 1000;
  const admin =
    auth.admin && deps.store && deps.virtualKeys
      ? adminRoutes({ store: deps.store, keys: deps.virtualKeys, observer: deps.observer, maxBodySize: gateway.config.server.max_body_size, readTimeoutMs, announce: deps.announceKey })
      : undefined;
  const created = Math.floor((deps.startedAt ?? Date.now()) / 1000);
  const modelData = modelList(gateway, created);
  const models = JSON.stringify(modelData);
  // A key restricted to some models sees only those in /v1/models (computed once per models list: a changed virtual
  // key gets a new list, and labels of virtual keys need not be unique).
  const modelsByKey = new WeakMap<string[], string>();
  const modelsFor = (caller: KeyRule | undefined): string => {
    if (!caller?.models) return models;
    let body = modelsByKey.get(caller.models);
    if (body === undefined) {
      body = JSON.stringify({ ...modelData, data: modelData.data.filter((m) => auth.listsModel(caller, m.id)) });
      modelsByKey.set(caller.models, body);
    }
    return body;
  };
  const health = JSON.stringify({ status: "ok" });
  const plain = (body: string | null, requestId: string) =>
    new Response(body, { headers: body === null ? { "x-request-id": requestId } : { "content-type": JSON_TYPE, "x-request-id": requestId } });

  // What every handler needs of a request, worked out once: its id, and the caller behind its key. The guard runs
  // before routing (unknown paths need a key too, so they reveal nothing) and leaves both on Elysia's per-request
  // context; `derive` gives them their types (and fills them when nothing is guarded). An idle onRequest hook would
  // still cost every request its call, so it is registered only when there is something to guard.
  const app = new Elysia();
  if (auth.guarding)
    app.onRequest((c) => {
      // The hook sets the facts on the context, so it takes the context whole; it reads only `request` of it.
      const facts = c as unknown as RequestFacts;
      const request = c.request;
      const id = requestIdOf(request);
      const settle = (r: Exclude<ReturnType<typeof auth.check>, { lookup: unknown }>): Response | undefined => {
        if ("denied" in r) {
          deps.observer.end({ ...simpleRecord(id, request.method, UNAUTHORIZED, r.denied.status, 0), error: "auth" }, request);
          return r.denied;
        }
        facts.requestId = id;
        facts.caller = r.caller;
        return undefined;
      };
      const r = auth.check(request, id);
      // A key this replica has not seen: the store is being asked. Elysia waits for the hook, then the guard decides
      // from memory and the request goes on as any other (same context, same server handle).
      if ("lookup" in r)
        return r.lookup.then(() => {
          const again = auth.check(request, id);
          // A request is looked up once (auth remembers it): a second lookup would be a bug, and fails closed.
          return settle("lookup" in again ? { denied: errorResponse(new AlloyError("auth", "Invalid API key"), id) } : again);
        });
      return settle(r);
    });
  return app
    .derive({ as: "global" }, deriveFacts as unknown as (c: { request: Request }) => RequestFacts)
    .get(ROUTES.health, observed<Ctx>(deps.observer, ROUTES.health, ({ requestId }) => plain(health, requestId)))
    .get(ROUTES.ready, observed<Ctx>(deps.observer, ROUTES.ready, ({ requestId }) => {
      const reasons: string[] = [];
      if (gateway.upstreams.size === 0) reasons.push("no provider is active");
      for (const check of deps.readiness ?? []) reasons.push(...check());
      const providers = [...gateway.upstreams.keys()];
      const servers = deps.mcp ? { mcp_servers: deps.mcp.status() } : {};
      if (reasons.length) return json({ status: "not_ready", providers, ...servers, reasons }, requestId, 503);
      const degraded: string[] = [];
      for (const check of deps.degraded ?? []) degraded.push(...check());
      return degraded.length
        ? json({ status: "degraded", providers, ...servers, reasons: degraded }, requestId)
        : json({ status: "ready", providers, ...servers }, requestId);
    }))
    .get(ROUTES.models, observed<Ctx>(deps.observer, ROUTES.models, ({ requestId, caller }) => plain(modelsFor(caller), requestId)))
    .use(metricsRoute(deps.metrics, deps.observer))
    .use(modelRoutes({ ...deps, auth }))
    // Stored responses (the POST is a model route above); GET /v1/responses is Codex's WebSocket probe.
    .get(ROUTES.responses, ({ request, requestId }) => stored.probe(request, requestId))
    .get(`${ROUTES.responses}/:id`, ({ request, requestId, caller, params }) => stored.retrieve(request, requestId, params.id, caller))
    .delete(`${ROUTES.responses}/:id`, ({ request, requestId, caller, params }) => stored.remove(request, requestId, params.id, caller), { parse: "none" })
    .get(`${ROUTES.responses}/:id/input_items`, ({ request, requestId, caller, params }) => stored.inputItems(request, requestId, params.id, caller))
    // Claude Code probes the base URL before it starts.
    .head("/", ({ requestId }) => plain(null, requestId))
    // The admin API exists only with an admin key (the guard has checked it); otherwise /admin/* is an unknown path.
    .use((a) =>
      admin
        ? a
            .post(`${ROUTES.admin}/keys`, ({ request, requestId }) => admin.create(requestId, "POST", request), { parse: "none" })
            .get(`${ROUTES.admin}/keys`, ({ requestId }) => admin.list(requestId, "GET"))
            .get(`${ROUTES.admin}/keys/:id`, ({ params, requestId }) => admin.get(requestId, "GET", params.id))
            .patch(`${ROUTES.admin}/keys/:id`, ({ params, request, requestId }) => admin.update(requestId, "PATCH", params.id, request), { parse: "none" })
            .delete(`${ROUTES.admin}/keys/:id`, ({ params, requestId }) => admin.remove(requestId, "DELETE", params.id))
            .get(`${ROUTES.admin}/spend`, ({ request, requestId }) => admin.spend(requestId, "GET", request))
        : a,
    )
    .get(ROUTES.mcpTools, observed<Ctx>(deps.observer, ROUTES.mcpTools, ({ requestId, caller }) => mcp.list(requestId, caller)))
    .post(ROUTES.mcpToolCall, ({ request, requestId, caller }) => mcp.call(request, requestId, caller), { parse: "none" })
    .all(ROUTES.mcp, ({ request, requestId, caller }) => mcpGateway(request, requestId, caller), { parse: "none" })
    // Destructured by name (see deriveFacts): a whole-context parameter here would make every request parse cookies.
    .onError(({ code, error, request, requestId }) => {
      // The same id as the rest of this request's answer, when routing got as far as working it out.
      const id = (requestId as string | undefined) ?? requestIdOf(request);
      const res = failure(code, error, request, id);
      // Unknown paths are client input: their access record says "unmatched", not the path.
      // rawPath, not new URL(): with a Host header Bun cannot use, request.url is a bare path and new URL() throws.
      const route = code === "NOT_FOUND" ? UNMATCHED : rawPath(request.url);
      const rec = simpleRecord(id, request.method, route, res.status, 0);
      if (error instanceof AlloyError) Object.assign(rec, { error: error.kind, errorMessage: error.message });
      deps.observer.end(rec, request);
      return res;
    });
}
