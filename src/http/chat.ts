// POST /v1/chat/completions: body → validate → route → dispatch → JSON or SSE. Every exit fills the access record.
import type { Server } from "bun";
import { AlloyError, asAlloyError } from "../errors.ts";
import type { Gateway } from "../gateway/gateway.ts";
import { RequestControl } from "../gateway/control.ts";
import type { AccessRecord, RequestObserver } from "../observability/access.ts";
import { tapStream } from "../observability/text.ts";
import { validateChatRequest } from "../openai/validate.ts";
import { mcpChat, mcpStream, planForRequest } from "../mcp/governed-loop.ts";
import type { McpManager } from "../mcp/servers.ts";
import type { GatewayAuth } from "./auth.ts";
import { readJsonBody } from "./body.ts";
import { errorResponse } from "./errors.ts";
import { chunksToSse, SSE_HEADERS } from "./sse.ts";

export interface ChatDeps {
  gateway: Gateway;
  observer: RequestObserver;
  /** Gateway keys: per-key limits and model restrictions (the guard in app.ts has already checked the key). */
  auth?: GatewayAuth;
  /** MCP tools: a request using them runs the tool loop instead of one dispatch. */
  mcp?: McpManager;
}

export function chatHandler({ gateway, observer, auth, mcp }: ChatDeps) {
  const mcpDeps = { mcp, config: gateway.config.mcp, dispatcher: gateway.dispatcher };
  const { watchdog } = gateway;
  const { max_body_size: maxBody, timeout_secs, read_timeout_secs } = gateway.config.server;
  const readTimeoutMs = read_timeout_secs * 1000;
  const deadlineMs = timeout_secs * 1000;

  return async function handle(request: Request, server: Server<unknown> | null, requestId: string): Promise<Response> {
    const start = performance.now();
    const rec: AccessRecord = {
      requestId,
      method: "POST",
      route: "/v1/chat/completions",
      status: 200,
      attempts: 0,
      retries: 0,
      failovers: 0,
      stream: false,
      durationMs: 0,
    };
    const done = (status: number, err?: AlloyError) => {
      rec.status = status;
      rec.durationMs = performance.now() - start;
      if (err) {
        rec.error = err.kind;
        rec.errorMessage = err.message;
        if (err.kind === "internal") rec.errorStack = err.cause instanceof Error ? err.cause.stack : String(err.cause);
      }
      observer.end(rec);
    };

    // Deadline and client disconnect, watched by the gateway's watchdog (no timer or listener per request). A client may
    // shorten (never extend) its deadline with x-alloy-timeout-secs: there is no point working on after it has given up.
    const asked = Number(request.headers.get("x-alloy-timeout-secs"));
    const ctx = new RequestControl(requestId, asked > 0 ? Math.min(deadlineMs, asked * 1000) : deadlineMs, rec, () => request.signal.aborted);
    watchdog.add(ctx);
    const caller = auth?.callerOf(request);
    if (caller) rec.key = caller.label;
    let release = () => {};
    const cleanup = () => {
      watchdog.delete(ctx);
      release(); // the key's concurrency slot, held until the last byte
    };

    try {
      release = auth?.admit(caller) ?? release;
      const req = validateChatRequest(await readJsonBody(request, maxBody, { timeoutMs: readTimeoutMs }));
      // The body is in: from here on only the configured timeouts may end the call, not the socket idle limit.
      server?.timeout(request, 0);
      rec.model = req.model;
      rec.stream = req.stream === true;
      observer.text?.(requestId, "prompt", req.messages);
      const route = gateway.router.resolve(req.model);
      const primary = route.alias ? undefined : route.steps[0]?.deployments[0];
      auth?.checkModel(caller, req.model, primary && `${primary.provider}/${primary.model}`);
      const plan = planForRequest(req, route, mcp);

      if (!rec.stream) {
        const reply = plan ? { value: await mcpChat(plan, mcpDeps, route, ctx) } : await gateway.dispatcher.chat(req, route, ctx);
        const res = reply.value;
        cleanup();
        observer.text?.(requestId, "completion", res.choices[0]?.message);
        rec.usage = res.usage;
        rec.finishReason = res.choices[0]?.finish_reason;
        rec.ttfbMs = performance.now() - start;
        // Passthrough answers (not rebuilt by the MCP loop) go out as the upstream's own bytes.
        const body = reply.raw ?? JSON.stringify(res);
        done(200);
        return new Response(body, {
          headers: { "content-type": "application/json", "x-request-id": requestId, "x-alloy-provider": rec.provider! },
        });
      }

      const { first, rest } = plan ? await mcpStream(plan, mcpDeps, route, ctx) : await gateway.dispatcher.stream(req, route, ctx);
      // Debug logging only: the completion text is gathered as it streams past.
      const tapped = observer.text ? tapStream(first, rest, (m) => observer.text?.(requestId, "completion", m)) : rest;
      const stream = chunksToSse(first, tapped, {
        includeUsage: req.stream_options?.include_usage === true,
        onFirstByte: () => (rec.ttfbMs = performance.now() - start),
        onEnd: (end) => {
          // A client that stops reading has left: the upstream call ends with it (frees the slot, stops the tokens).
          if (end.cancelled) ctx.end(new AlloyError("cancelled", "client closed the connection"));
          cleanup();
          rec.usage = end.usage;
          rec.finishReason = end.finishReason;
          done(end.cancelled ? 499 : 200, end.error);
        },
      });
      return new Response(stream, {
        headers: { ...SSE_HEADERS, "x-request-id": requestId, "x-alloy-provider": rec.provider! },
      });
    } catch (e) {
      cleanup();
      const err = asAlloyError(e);
      done(err.status, err);
      // A body refused part-way (too large, too slow) is not drained: the connection closes with the answer.
      return errorResponse(err, requestId, err.status === 408 || err.status === 413 ? { connection: "close" } : undefined);
    }
  };
}
