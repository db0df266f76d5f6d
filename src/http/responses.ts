// /v1/responses: the OpenAI Responses dialect, with Alloy's own store. Each attempt picks its path by the target it
// lands on: natively to providers with the Responses API (the body as the client sent it, model replaced, Alloy's
// stored turns expanded into `input`; the answer and events back unchanged), translated through the unified request
// everywhere else. Requests with MCP tools run Alloy's tool loop over the translated path on every target. Stored
// turns (`store`, default true) are Alloy's, so GET, input_items, DELETE and previous_response_id work whichever
// provider answered.
import { AlloyError, asAlloyError } from "../errors.ts";
import { unixNow } from "../providers/kit.ts";
import type { SseEvent, StreamEncoder } from "../dialects/dialect.ts";
import { toChatRequest, validateResponses } from "../dialects/responses/decode.ts";
import { responseShell, toResponse, type ResponseContext } from "../dialects/responses/encode.ts";
import { errorReply } from "../dialects/responses/errors.ts";
import type { ResponseItem, ResponseObject } from "../dialects/responses/schema.ts";
import { failureCode, finalResponse, initStream, responsesStream, type ResponsesStreamState } from "../dialects/responses/stream.ts";
import { opened, type Opened, type OpenStream } from "../gateway/dispatch.ts";
import { mcpChat, mcpStream, planForRequest } from "../mcp/governed-loop.ts";
import { simpleRecord } from "../observability/access.ts";
import type { ChatResponse, Usage } from "../openai/schema.ts";
import type { Reply } from "../providers/provider.ts";
import type { SseFrame } from "../providers/sse.ts";
import { ROUTES } from "../routes.ts";
import type { Store } from "../store/store.ts";
import type { KeyRule } from "../governance/keylimits.ts";
import { errorResponse } from "./errors.ts";
import { ingressHandler, type Exchange, type IngressDeps } from "./ingress.ts";
import { json } from "./json.ts";
import { eachFrame, relayedFrames, type StreamEnd } from "./sse.ts";

type Outcome =
  | { native: true; reply: Reply<unknown> }
  | { native: true; open: Opened<SseFrame[]> }
  | { native: false; reply: Reply<ChatResponse> }
  | { native: false; open: OpenStream };

/** Unguessable and unique across replicas and restarts: ids are the only key to a stored response. */
const newResponseId = () => `resp_${crypto.randomUUID().replace(/-/g, "")}`;

function unknownPrevious(id: string): AlloyError {
  return new AlloyError("bad_request", `Previous response with id '${id.slice(0, 200)}' not found.`, { param: "previous_response_id", code: null });
}

function notFound(id: string): AlloyError {
  return new AlloyError("not_found", `Response with id '${id.slice(0, 200)}' not found.`, { code: null, param: "response_id" });
}

/** Responses usage → the unified usage the access line, metrics and spend read. */
export function responsesUsage(u: unknown): Usage | undefined {
  if (!u || typeof u !== "object") return undefined;
  const o = u as { input_tokens?: unknown; output_tokens?: unknown; input_tokens_details?: { cached_tokens?: unknown }; output_tokens_details?: { reasoning_tokens?: unknown } };
  const n = (v: unknown) => (typeof v === "number" ? v : 0);
  const prompt = n(o.input_tokens);
  const completion = n(o.output_tokens);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  const cached = n(o.input_tokens_details?.cached_tokens);
  if (cached) usage.prompt_tokens_details = { cached_tokens: cached };
  const reasoning = n(o.output_tokens_details?.reasoning_tokens);
  if (reasoning) usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}

/**
 * The native body: the client's, with Alloy's stored turns in front of its input when it chains. The upstream never
 * sees Alloy's previous_response_id (it may not have served those turns); reasoning items without encrypted content
 * (summaries from translated turns) are left out, as an upstream could not resolve them.
 */
function nativeBody(raw: Record<string, unknown>, prior: readonly ResponseItem[]): Record<string, unknown> {
  if (raw.previous_response_id == null) return raw;
  const input = typeof raw.input === "string" ? [{ type: "message", role: "user", content: raw.input }] : Array.isArray(raw.input) ? raw.input : [];
  const kept = prior.filter((it) => !((it as { type?: unknown }).type === "reasoning" && !(it as { encrypted_content?: unknown }).encrypted_content));
  return { ...raw, input: [...kept, ...input], previous_response_id: undefined };
}

/** Without a store (deps.store) nothing is kept and every previous_response_id is unknown. */
export function responsesHandler(deps: IngressDeps) {
  const { gateway, observer, mcp, store, log } = deps;
  const mcpDeps = { mcp, config: gateway.config.mcp, dispatcher: gateway.dispatcher };

  return ingressHandler(deps, {
    route: ROUTES.responses,
    errorReply,
    async run(x, body) {
      const req = validateResponses(body);
      const route = x.route(req.model);
      const prev = req.previous_response_id;
      let prior: ResponseItem[] = [];
      if (prev != null) {
        const chain = store ? await store.responses.chain(prev, ownerOf(x.caller)) : null;
        if (!chain) throw unknownPrevious(prev);
        prior = chain as ResponseItem[];
      }
      const id = newResponseId();
      const t = toChatRequest(req, prior, { responseId: id });
      observer.text?.(x.requestId, "prompt", t.chat.messages);
      const ctx: ResponseContext = { requestId: x.requestId, model: req.model, created: unixNow(), id, request: req, tools: t.toolNames };
      const keep = store !== undefined && req.store !== false;
      const save = (response: ResponseObject | Record<string, unknown>) => {
        if (!keep || typeof response.id !== "string") return;
        store.responses.put({
          id: response.id,
          owner: ownerOf(x.caller),
          model: req.model,
          provider: x.rec.provider ?? "",
          previousResponseId: prev ?? null,
          response: response as Record<string, unknown>,
          input: t.inputItems as Record<string, unknown>[],
        });
      };
      const stream = req.stream === true;
      const raw = body as Record<string, unknown>;

      // MCP tools: Alloy runs the loop, over the unified request on every target (native ones included).
      const plan = planForRequest(t.chat, route, mcp, x.caller);
      let dropped = t.dropped.length > 0;
      let out: Outcome;
      if (plan) {
        out = stream
          ? { native: false, open: await mcpStream(plan, mcpDeps, route, x.ctrl) }
          : { native: false, reply: { value: await mcpChat(plan, mcpDeps, route, x.ctrl) } };
      } else {
        let body: Record<string, unknown> | undefined; // the native body, built once for every native attempt
        out = await gateway.dispatcher.run<Outcome>(route, x.ctrl, async (target, keepSlot) => {
          const native = target.provider.nativeResponses;
          if (native) {
            const b = (body ??= nativeBody(raw, prior));
            return stream ? { native: true, open: await opened(native.responsesStream(b, target), target, keepSlot) } : { native: true, reply: await native.responses(b, target) };
          }
          return stream
            ? { native: false, open: await opened(target.provider.chatStream(t.chat, target), target, keepSlot) }
            : { native: false, reply: await target.provider.chat(t.chat, target) };
        });
      }
      if (out.native) dropped = false;
      if (dropped && log?.enabled("debug"))
        log.debug("responses: built-in tools left out for a Chat Completions target", { requestId: x.requestId, provider: x.rec.provider, tools: t.dropped });

      if ("reply" in out) {
        if (out.native) {
          const value = out.reply.value as Record<string, unknown>;
          x.rec.usage = responsesUsage(value.usage);
          save(value);
          return x.json(out.reply.raw ?? JSON.stringify(value));
        }
        const res = out.reply.value;
        observer.text?.(x.requestId, "completion", res.choices[0]?.message);
        x.rec.usage = res.usage;
        x.rec.finishReason = res.choices[0]?.finish_reason;
        const response = toResponse(res, { ...ctx, completedAt: unixNow() });
        save(response);
        return x.json(JSON.stringify(response));
      }
      if (out.native) return relayNative(x, out.open, ctx, save);
      const init = initStream(ctx);
      return x.sse(out.open, storingEncoder(init.events, save), init.state);
    },
  });
}

/** The dialect's stream encoder, its first two events sent with the first chunk's, and the final response stored. */
function storingEncoder(first: SseEvent[], save: (r: ResponseObject) => void): StreamEncoder<ResponsesStreamState> {
  let pending = first;
  const lead = (out: SseEvent[]) => {
    if (!pending.length) return out;
    const all = [...pending, ...out];
    pending = [];
    return all;
  };
  return {
    step: (s, chunk) => lead(responsesStream.step(s, chunk)),
    finish(s) {
      s.ctx.completedAt = unixNow();
      const out = lead(responsesStream.finish(s));
      save(finalResponse(s));
      return out;
    },
    fail(s, err) {
      const out = lead(responsesStream.fail(s, err));
      save(finalResponse(s));
      return out;
    },
  };
}

interface NativeState {
  /** Events relayed so far: the upstream numbers them from 0, so this is the next sequence_number. */
  count: number;
  /** The latest response object the upstream sent (created / in_progress / terminal). */
  response: Record<string, unknown> | undefined;
}

const SNAPSHOT_EVENTS: ReadonlySet<string> = new Set(["response.created", "response.in_progress", "response.completed", "response.incomplete", "response.failed"]);

/**
 * Native events go out as the upstream wrote them; only the ones carrying the response object are read (usage for
 * the access line, the final response for the store). A failure after the stream began is one `response.failed`
 * numbered after the last relayed event.
 */
function relayNative(x: Exchange, open: Opened<SseFrame[]>, ctx: ResponseContext, save: (r: Record<string, unknown>) => void): Response {
  const state: NativeState = { count: 0, response: undefined };
  const encoder = {
    step: (_s: NativeState, batch: SseFrame[]): SseEvent[] => relayedFrames(batch),
    finish: (): SseEvent[] => [],
    fail: (s: NativeState, err: AlloyError): SseEvent[] => {
      const base = s.response ?? (responseShell(ctx, "failed") as unknown as Record<string, unknown>);
      const response = { ...base, status: "failed", error: { code: failureCode(err), message: err.publicMessage } };
      save(response);
      return [{ event: "response.failed", data: { type: "response.failed", response, sequence_number: s.count } }];
    },
  };
  const observe = (f: SseFrame, end: StreamEnd) => {
    state.count++;
    if (f.event !== undefined && !SNAPSHOT_EVENTS.has(f.event)) return;
    try {
      const e = JSON.parse(f.data) as { type?: string; response?: Record<string, unknown> };
      if (!e.type || !SNAPSHOT_EVENTS.has(e.type) || !e.response) return;
      state.response = e.response;
      if (e.type === "response.created" || e.type === "response.in_progress") return;
      end.usage = responsesUsage(e.response.usage);
      end.finishReason = typeof e.response.status === "string" ? e.response.status : undefined;
      save(e.response);
    } catch {
      // relayed as it came; the client's SDK will say what is wrong with it
    }
  };
  return x.sseItems(open, encoder, state, eachFrame(observe));
}

// ── stored responses: GET, DELETE, input_items; the WebSocket probe ──────────────────────────────────────────────

/**
 * Who owns a stored response: the key that stored it (by its store id, or its config label), "" without keys. A
 * response is found only by its owner, so one app's key never reads, chains on or deletes another's conversations.
 */
export const ownerOf = (caller: KeyRule | undefined): string => (caller ? (caller.id ?? `config:${caller.label}`) : "");

export interface StoredRoutes {
  retrieve(request: Request, requestId: string, id: string, caller: KeyRule | undefined): Promise<Response>;
  remove(request: Request, requestId: string, id: string, caller: KeyRule | undefined): Promise<Response>;
  inputItems(request: Request, requestId: string, id: string, caller: KeyRule | undefined): Promise<Response>;
  /** GET /v1/responses: Codex first asks for a WebSocket; a clear 426 makes it fall back to HTTP at once. */
  probe(request: Request, requestId: string): Response;
}

function queryOf(request: Request): URLSearchParams {
  const q = request.url.indexOf("?");
  return new URLSearchParams(q < 0 ? "" : request.url.slice(q + 1));
}

function itemsQuery(request: Request): { order: "asc" | "desc"; after?: string; limit: number } {
  const q = queryOf(request);
  const order = q.get("order") ?? "desc";
  if (order !== "asc" && order !== "desc") throw new AlloyError("bad_request", `Invalid 'order': expected "asc" or "desc", got ${JSON.stringify(order.slice(0, 40))}`, { param: "order" });
  const limitText = q.get("limit");
  const limit = limitText === null ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new AlloyError("bad_request", `Invalid 'limit': expected an integer from 1 to 100, got ${JSON.stringify(limitText?.slice(0, 40))}`, { param: "limit" });
  const after = q.get("after") ?? undefined;
  return { order, limit, ...(after ? { after } : {}) };
}

export function storedRoutes(deps: { store?: Store; observer: IngressDeps["observer"] }): StoredRoutes {
  const { store, observer } = deps;
  // Each leaves an access line like any route; failures answer in OpenAI's error shape.
  const handled = async (request: Request, requestId: string, f: () => Promise<Response> | Response): Promise<Response> => {
    const t = performance.now();
    let res: Response;
    let err: AlloyError | undefined;
    try {
      res = await f();
    } catch (e) {
      err = asAlloyError(e);
      res = errorResponse(err, requestId);
    }
    const rec = simpleRecord(requestId, request.method, ROUTES.responses, res.status, performance.now() - t);
    if (err) Object.assign(rec, { error: err.kind, errorMessage: err.message });
    observer.end(rec);
    return res;
  };
  return {
    retrieve: (request, requestId, id, caller) =>
      handled(request, requestId, async () => {
        const r = store ? await store.responses.get(id, ownerOf(caller)) : null;
        if (!r) throw notFound(id);
        return json(r.response, requestId);
      }),
    remove: (request, requestId, id, caller) =>
      handled(request, requestId, async () => {
        if (!store || !(await store.responses.delete(id, ownerOf(caller)))) throw notFound(id);
        return json({ id, object: "response", deleted: true }, requestId);
      }),
    inputItems: (request, requestId, id, caller) =>
      handled(request, requestId, async () => {
        const q = itemsQuery(request);
        const page = store ? await store.responses.inputItems(id, q, ownerOf(caller)) : null;
        if (!page) throw notFound(id);
        return json({ object: "list", data: page.data, first_id: page.firstId, last_id: page.lastId, has_more: page.hasMore }, requestId);
      }),
    probe(request, requestId) {
      const ws = request.headers.get("upgrade")?.toLowerCase() === "websocket";
      const err = ws
        ? new AlloyError("bad_request", "WebSocket transport is not supported for /v1/responses; use POST /v1/responses (HTTP with SSE)", { status: 426, code: "websocket_not_supported" })
        : new AlloyError("bad_request", "GET /v1/responses needs a response id (GET /v1/responses/{id}); create one with POST", { status: 405, code: "method_not_allowed" });
      const res = errorResponse(err, requestId);
      const rec = simpleRecord(requestId, request.method, ROUTES.responses, res.status, 0);
      observer.end({ ...rec, error: err.kind, errorMessage: err.message });
      return res;
    },
  };
}
