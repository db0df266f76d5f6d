// POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages dialect. Each attempt picks its path by
// the target it lands on: natively to providers that speak Messages (the body as the client sent it, model replaced,
// the answer and events back unchanged), translated through the unified request everywhere else. Failover may move
// a request from one path to the other; governance is the same for both. Native targets (Anthropic, Claude on
// Bedrock) get the body without unsigned thinking blocks; an alias's mcp_servers run the tool loop on translated ones.
import { ROUTES } from "../routes.ts";
import { unixNow } from "../providers/kit.ts";
import type { AlloyError } from "../errors.ts";
import { estimateTokens } from "../dialects/anthropic/count.ts";
import { toChatRequest, validateCountTokens, validateMessages } from "../dialects/anthropic/decode.ts";
import { toMessage } from "../dialects/anthropic/encode.ts";
import { errorBody, errorReply } from "../dialects/anthropic/errors.ts";
import { encoder as anthropicStream, initStream } from "../dialects/anthropic/stream.ts";
import type { MessagesRequest } from "../dialects/anthropic/schema.ts";
import { opened, type AttemptTarget, type Opened } from "../gateway/dispatch.ts";
import type { Route } from "../gateway/route.ts";
import { mapOpened, planForRequest, runToolForModel } from "../mcp/governed-loop.ts";
import { runToolLoop, streamToolLoop, type LoopFns } from "../mcp/loop.ts";
import type { McpPlan } from "../mcp/tools.ts";
import type { ChatChunk, ChatRequest, ChatResponse, Usage } from "../openai/schema.ts";
import type { NativeMessages, NativeMessagesOptions, Piece, Reply } from "../providers/provider.ts";
import type { SseFrame } from "../providers/sse.ts";
import { ingressHandler, type Exchange, type IngressDeps } from "./ingress.ts";
import { eachFrame, relayedFrames, type ItemEncoder, type StreamEnd } from "./sse.ts";

type Outcome =
  | { native: true; reply: Reply<unknown> }
  | { native: true; open: Opened<SseFrame[]> }
  | { native: false; reply: Reply<ChatResponse> }
  | { native: false; open: Opened<Piece> };

function nativeOptions(x: Exchange, t: AttemptTarget): NativeMessagesOptions {
  const version = x.request.headers.get("anthropic-version") ?? undefined;
  const beta = x.request.headers.get("anthropic-beta") ?? undefined;
  return { model: t.model, signal: t.signal, requestId: t.requestId, headers: t.headers, version, beta };
}

/** The target's native Messages capability when it serves this model natively (Bedrock: Claude ids only). */
function nativeFor(t: AttemptTarget): NativeMessages | undefined {
  const n = t.provider.nativeMessages;
  return n && (n.supports?.(t.model) ?? true) ? n : undefined;
}

/**
 * Assistant history without the thinking blocks that carry no signature (translated answers have `signature: ""`):
 * Anthropic refuses them, and they were never Anthropic's to verify. Signed blocks stay as they are; a body with
 * nothing to strip is returned as it is.
 */
export function withoutUnsignedThinking(body: Record<string, unknown>): Record<string, unknown> {
  const messages = body.messages;
  if (!Array.isArray(messages)) return body;
  const unsigned = (b: unknown) => {
    const x = b as { type?: unknown; signature?: unknown } | null;
    return x?.type === "thinking" && (typeof x.signature !== "string" || x.signature === "");
  };
  const has = (m: unknown) => {
    const x = m as { role?: unknown; content?: unknown } | null;
    return x?.role === "assistant" && Array.isArray(x.content) && x.content.some(unsigned);
  };
  if (!messages.some(has)) return body;
  return { ...body, messages: messages.map((m) => (has(m) ? { ...m, content: (m.content as unknown[]).filter((b) => !unsigned(b)) } : m)) };
}

/** Thrown out of the tool loop when its first round landed on a native target (which then answered by itself). */
const WENT_NATIVE = new Error("the first round went to a native target");

export function messagesHandler(deps: IngressDeps) {
  const { gateway, mcp } = deps;
  const mcpConfig = gateway.config.mcp;
  return ingressHandler(deps, {
    route: ROUTES.messages,
    errorReply,
    async run(x, body) {
      const req = validateMessages(body);
      const route = x.route(req.model);
      const stream = req.stream === true;
      const raw = body as Record<string, unknown>;
      const created = unixNow();
      // Each path's request is built once, by the first attempt that needs it.
      let chat: ChatRequest | undefined;
      const chatRequest = () => (chat ??= { ...toChatRequest(req, { reasoning: true }), model: req.model });
      let nativeBody: Record<string, unknown> | undefined;
      const native = async (n: NativeMessages, t: AttemptTarget, keep: () => () => void): Promise<Outcome> => {
        const b = (nativeBody ??= withoutUnsignedThinking(raw));
        const o = nativeOptions(x, t);
        return stream ? { native: true, open: await opened(n.messagesStream(b, o), t, keep) } : { native: true, reply: await n.messages(b, o) };
      };

      const plan = route.mcpServers?.length ? planForRequest(chatRequest(), route, mcp, x.caller) : undefined;
      const out = plan
        ? await toolLoop(plan, stream, x, route, native)
        : await gateway.dispatcher.run<Outcome>(route, x.ctrl, async (t, keep) => {
            const n = nativeFor(t);
            if (n) return native(n, t, keep);
            const c = chatRequest();
            return stream ? { native: false, open: await opened(t.provider.chatStream(c, t), t, keep) } : { native: false, reply: await t.provider.chat(c, t) };
          });
      const headers = { "request-id": x.requestId };

      if ("reply" in out) {
        if (out.native) {
          x.rec.usage = nativeUsage((out.reply.value as { usage?: unknown })?.usage);
          return x.json(out.reply.raw ?? JSON.stringify(out.reply.value), headers);
        }
        const res = out.reply.value;
        x.rec.usage = res.usage;
        x.rec.finishReason = res.choices[0]?.finish_reason;
        return x.json(JSON.stringify(toMessage(res, { requestId: x.requestId, model: req.model, created })), headers);
      }
      if (out.native) return relayNative(x, out.open, headers);
      const state = initStream({ requestId: x.requestId, model: req.model, created, inputTokens: estimateTokens(req) });
      return x.sse(out.open, anthropicStream, state, headers);
    },
  });

  /**
   * An alias with `mcp_servers`: the tool loop, each round through governance. The first round goes wherever routing
   * sends it; on a native target the request goes natively with the client's tools only (the documented limit) and
   * that answer is the outcome. Otherwise the loop runs on the translated path, later rounds on any target.
   */
  async function toolLoop(
    plan: McpPlan,
    stream: boolean,
    x: Exchange,
    route: Route,
    native: (n: NativeMessages, t: AttemptTarget, keep: () => () => void) => Promise<Outcome>,
  ): Promise<Outcome> {
    let rounds = 0;
    let chosen: Outcome | undefined;
    const run = <T>(attempt: (t: AttemptTarget, keep: () => () => void) => Promise<T>) => {
      const first = ++rounds === 1;
      return gateway.dispatcher.run<T | undefined>(route, x.ctrl, async (t, keep) => {
        const n = first ? nativeFor(t) : undefined;
        if (!n) return attempt(t, keep);
        chosen = await native(n, t, keep);
        return undefined;
      });
    };
    const fns: LoopFns = {
      complete: async (r) => {
        const reply = await run((t) => t.provider.chat(r, t));
        if (!reply) throw WENT_NATIVE;
        return reply.value;
      },
      stream: async (r) => {
        const open = await run((t, keep) => opened(t.provider.chatStream(r, t), t, keep));
        if (!open) throw WENT_NATIVE;
        return mapOpened(open, (p: Piece) => p.chunk);
      },
      runTool: (call) => runToolForModel(mcp, call, { signal: x.ctrl.signal, timeoutMs: mcpConfig.tool_timeout_secs * 1000, requestId: x.requestId }),
      maxIterations: mcpConfig.max_iterations,
    };
    try {
      if (stream) return { native: false, open: mapOpened(await streamToolLoop(plan, fns), (chunk: ChatChunk): Piece => ({ chunk })) };
      return { native: false, reply: { value: await runToolLoop(plan, fns) } };
    } catch (e) {
      if (e === WENT_NATIVE && chosen) return chosen;
      throw e;
    }
  }
}

/** Anthropic usage → the unified usage the access line and metrics read. */
function nativeUsage(u: unknown): Usage | undefined {
  if (!u || typeof u !== "object") return undefined;
  const n = (k: string) => {
    const v = (u as Record<string, unknown>)[k];
    return typeof v === "number" ? v : 0;
  };
  const cached = n("cache_read_input_tokens");
  const prompt = n("input_tokens") + cached + n("cache_creation_input_tokens");
  const completion = n("output_tokens");
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, ...(cached ? { prompt_tokens_details: { cached_tokens: cached } } : {}) };
}

/**
 * Native events go out as the upstream wrote them; only message_start and message_delta are read (usage for the
 * access line). A failure after the stream began is one Anthropic `event: error`, never a message_stop.
 */
function relayNative(x: Exchange, open: Opened<SseFrame[]>, headers: Record<string, string>): Response {
  const usage: Record<string, unknown> = {};
  const encoder: ItemEncoder<SseFrame[], null> = {
    step: (_s, batch) => relayedFrames(batch),
    finish: () => [],
    fail: (_s, err: AlloyError) => [{ event: "error", data: errorBody(err, x.requestId) }],
  };
  const observe = (f: SseFrame, end: StreamEnd) => {
    if (f.event !== "message_start" && f.event !== "message_delta") return;
    try {
      const e = JSON.parse(f.data) as { message?: { usage?: object }; usage?: object; delta?: { stop_reason?: string } };
      Object.assign(usage, e.message?.usage ?? e.usage ?? {});
      if (e.delta?.stop_reason) end.finishReason = e.delta.stop_reason;
      end.usage = nativeUsage(usage);
    } catch {
      // relayed as it came; the client's SDK will say what is wrong with it
    }
  };
  return x.sseItems(open, encoder, null, eachFrame(observe), headers);
}

export function countTokensHandler(deps: IngressDeps) {
  const { gateway } = deps;
  return ingressHandler(deps, {
    route: ROUTES.countTokens,
    errorReply,
    async run(x, body) {
      const req = validateCountTokens(body);
      const route = x.route(req.model);
      const raw = body as Record<string, unknown>;
      // Anthropic's own count where the target has one; otherwise the documented estimate (see docs/api.md, Anthropic
      // Messages). A route with no counting target is estimated here: no slot, no upstream attempt, nothing billed.
      const counts = route.steps.some((s) =>
        s.deployments.some((d) => {
          const n = gateway.upstreams.get(d.provider)?.provider.nativeMessages;
          return n?.countTokens !== undefined && (n.supports?.(d.model) ?? true);
        }),
      );
      if (!counts) return x.json(JSON.stringify({ input_tokens: estimateTokens(req as MessagesRequest) }));
      const counted = await gateway.dispatcher.run<Reply<unknown> | undefined>(route, x.ctrl, async (t) => {
        const count = nativeFor(t)?.countTokens;
        return count ? count.call(t.provider.nativeMessages, raw, nativeOptions(x, t)) : undefined;
      });
      if (counted) return x.json(counted.raw ?? JSON.stringify(counted.value));
      return x.json(JSON.stringify({ input_tokens: estimateTokens(req as MessagesRequest) }));
    },
  });
}
