// What every model route does around its dialect: the access record, the request's deadline and disconnect watch, the
// key's concurrency slot, the body read, the route's model check, and every failure answered in the dialect's own
// error shape. A route supplies `run` (decode, dispatch, encode) and the dialect's error encoder; nothing else.
import type { Server } from "bun";
import { AlloyError, asAlloyError } from "../errors.ts";
import type { ErrorReply, StreamEncoder } from "../dialects/dialect.ts";
import type { Gateway } from "../gateway/gateway.ts";
import { RequestControl } from "../gateway/control.ts";
import type { Opened, OpenStream } from "../gateway/dispatch.ts";
import type { Route } from "../gateway/route.ts";
import type { AccessRecord, RequestObserver } from "../observability/access.ts";
import type { McpManager } from "../mcp/servers.ts";
import type { Tracing } from "../observability/tracing.ts";
import { keyId, type KeyRule } from "../governance/keylimits.ts";
import type { Accounting } from "../governance/accounting.ts";
import type { GatewayAuth } from "./auth.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "../observability/log.ts";
import { readJsonBody } from "./body.ts";
import { errorHeaders } from "./errors.ts";
import { eventsToSse, observePiece, piecesEncoder, SSE_HEADERS, type ItemEncoder, type StreamEnd } from "./sse.ts";

export interface IngressDeps {
  gateway: Gateway;
  observer: RequestObserver;
  /** Gateway keys: per-key limits and model restrictions (the guard in app.ts has already checked the key). */
  auth?: GatewayAuth;
  /** MCP tools for requests that name them. */
  mcp?: McpManager;
  /** Cost, tpm, budgets and spend of every answered request. */
  accounting?: Accounting;
  /** Alloy's store (stored responses for /v1/responses). */
  store?: Store;
  /** For debug lines a route writes itself (built-in tools left out, …). */
  log?: Logger;
  /** Trace spans, when tracing is configured. */
  tracing?: Tracing;
}

/** One request in flight on a model route, as its `run` sees it. */
export interface Exchange {
  request: Request;
  requestId: string;
  rec: AccessRecord;
  ctrl: RequestControl;
  caller: KeyRule | undefined;
  /** performance.now() at arrival. */
  start: number;
  /** The model's route, with the caller's model restrictions applied; the access record names the model from here on. */
  route(model: string): Route;
  /** A JSON answer (the access record ends with it). */
  json(body: string, extra?: Record<string, string>): Response;
  /** A streamed answer through a dialect's encoder; the access record ends when the stream does. */
  sse<S>(open: OpenStream, encoder: StreamEncoder<S>, state: S, extra?: Record<string, string>): Response;
  /** The same for a stream of other items (a native upstream's own events) with their own encoder. */
  sseItems<T, S>(open: Opened<T>, encoder: ItemEncoder<T, S>, state: S, observe: (item: T, end: StreamEnd) => void, extra?: Record<string, string>): Response;
}

export interface IngressSpec {
  /** The route label of access lines and metrics. */
  route: string;
  /** This dialect's error shape. */
  errorReply(err: AlloyError, requestId: string): ErrorReply;
  run(x: Exchange, body: unknown): Promise<Response>;
}

export type IngressHandler = (request: Request, server: Server<unknown> | null, requestId: string, caller: KeyRule | undefined) => Promise<Response>;

const JSON_TYPE = "application/json";

/** Dollars as a plain decimal (never 1e-7), to 10 places. */
export const formatUsd = (usd: number): string => (usd > 0 ? usd.toFixed(10).replace(/\.?0+$/, "") : "0");

export function replyResponse(reply: ErrorReply, requestId: string, err: AlloyError, extra?: Record<string, string>): Response {
  return new Response(JSON.stringify(reply.body), { status: reply.status, headers: { ...errorHeaders(err, requestId, extra), ...reply.headers } });
}

export function ingressHandler({ gateway, observer, auth, tracing, accounting }: IngressDeps, spec: IngressSpec): IngressHandler {
  const { watchdog } = gateway;
  const traced = tracing?.enabled ? tracing : undefined;
  const { max_body_size: maxBody, timeout_secs, read_timeout_secs } = gateway.config.server;
  const readTimeoutMs = read_timeout_secs * 1000;
  const deadlineMs = timeout_secs * 1000;

  return async function handle(request, server, requestId, caller) {
    const start = performance.now();
    const rec: AccessRecord = { requestId, method: "POST", route: spec.route, status: 200, attempts: 0, retries: 0, failovers: 0, stream: false, durationMs: 0 };
    const done = (status: number, err?: AlloyError) => {
      rec.status = status;
      rec.durationMs = performance.now() - start;
      if (err) {
        rec.error = err.kind;
        // The log may say what the client is not told: which service failed (the line is redacted like every line).
        rec.errorMessage = err.kind === "unavailable" && err.cause instanceof Error ? `${err.message} (${err.cause.message})` : err.message;
        if (err.kind === "internal") rec.errorStack = err.cause instanceof Error ? err.cause.stack : String(err.cause);
      }
      accounting?.finish(caller, rec);
      observer.end(rec);
      ctrl.trace?.end(rec);
    };
    // Deadline and client disconnect, watched by the gateway's watchdog (no timer or listener per request). A client
    // may shorten (never extend) its deadline with x-alloy-timeout-secs: no point working on after it has given up.
    const asked = Number(request.headers.get("x-alloy-timeout-secs"));
    const ctrl = new RequestControl(requestId, asked > 0 ? Math.min(deadlineMs, asked * 1000) : deadlineMs, rec, () => request.signal.aborted);
    watchdog.add(ctrl);
    if (traced) ctrl.trace = traced.request(request, spec.route, requestId, start);
    if (caller) rec.key = keyId(caller);
    let release = () => {};
    const cleanup = () => {
      watchdog.delete(ctrl);
      release(); // the key's concurrency slot, held until the last byte
    };
    let streaming = false;
    const headers = (extra?: Record<string, string>) => ({ "x-request-id": requestId, "x-alloy-provider": rec.provider ?? "", ...extra });

    const x: Exchange = {
      request,
      requestId,
      rec,
      ctrl,
      caller,
      start,
      route(model) {
        rec.model = model;
        const route = gateway.router.resolve(model);
        const primary = route.alias ? undefined : route.steps[0]?.deployments[0];
        auth?.checkModel(caller, model, primary && `${primary.provider}/${primary.model}`);
        return route;
      },
      json(body, extra) {
        rec.ttfbMs = performance.now() - start;
        const h: Record<string, string> = { "content-type": JSON_TYPE, ...headers(extra) };
        // The bill is known before the answer goes: its cost, and the key's limits with this request's tokens taken.
        if (accounting && rec.usage && rec.provider) h["x-alloy-cost-usd"] = formatUsd(accounting.price(rec));
        const limited = auth?.rateHeaders(caller, rec.usage ? rec.usage.prompt_tokens + rec.usage.completion_tokens : 0);
        return new Response(body, { headers: limited ? Object.assign(h, limited) : h });
      },
      sse(open, encoder, state, extra) {
        ctrl.trace?.answer(open.first.chunk.model);
        return x.sseItems(open, piecesEncoder(encoder), state, observePiece, extra);
      },
      sseItems(open, encoder, state, observe, extra) {
        streaming = true;
        rec.stream = true;
        const stream = eventsToSse(open.first, open.rest, encoder, state, {
          observe,
          onFirstByte: () => (rec.ttfbMs = performance.now() - start),
          onEnd: (end) => {
            // A client that stops reading has left: the upstream call ends with it (frees the slot, stops the tokens).
            if (end.cancelled) ctrl.end(new AlloyError("cancelled", "client closed the connection"));
            cleanup();
            rec.usage = end.usage;
            rec.finishReason = end.finishReason;
            done(end.cancelled ? 499 : 200, end.error);
          },
        });
        return new Response(stream, { headers: { ...SSE_HEADERS, ...headers(extra), ...auth?.rateHeaders(caller) } });
      },
    };

    try {
      const admitted = auth?.admit(caller);
      if (admitted) release = admitted instanceof Promise ? await admitted : admitted;
      const body = await readJsonBody(request, maxBody, { timeoutMs: readTimeoutMs, watch: ctrl });
      // The body is in: from here on only the configured timeouts may end the call, not the socket idle limit.
      server?.timeout(request, 0);
      const res = await spec.run(x, body);
      if (!streaming) {
        cleanup();
        done(res.status);
      }
      return res;
    } catch (e) {
      cleanup();
      const err = asAlloyError(e);
      const reply = spec.errorReply(err, requestId);
      done(reply.status, err);
      // A body refused part-way (too large, too slow) is not drained: the connection closes with the answer.
      const extra = err.status === 408 || err.status === 413 ? { connection: "close" } : undefined;
      return replyResponse(reply, requestId, err, caller ? { ...extra, ...auth?.rateHeaders(caller) } : extra);
    }
  };
}

