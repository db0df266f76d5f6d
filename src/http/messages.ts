// POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages dialect. Each attempt picks its path by
// the target it lands on: natively to providers that speak Messages (the body as the client sent it, model replaced,
// the answer and events back unchanged), translated through the unified request everywhere else. Failover may move
// a request from one path to the other; governance is the same for both.
import type { AlloyError } from "../errors.ts";
import { estimateTokens } from "../dialects/anthropic/count.ts";
import { toChatRequest, validateCountTokens, validateMessages } from "../dialects/anthropic/decode.ts";
import { toMessage } from "../dialects/anthropic/encode.ts";
import { errorBody, errorReply } from "../dialects/anthropic/errors.ts";
import { encoder as anthropicStream, initStream } from "../dialects/anthropic/stream.ts";
import type { MessagesRequest } from "../dialects/anthropic/schema.ts";
import { opened, type AttemptTarget, type Opened } from "../gateway/dispatch.ts";
import type { ChatResponse, Usage } from "../openai/schema.ts";
import type { NativeMessagesOptions, Piece, Reply } from "../providers/provider.ts";
import type { SseFrame } from "../providers/sse.ts";
import { ingressHandler, type Exchange, type IngressDeps } from "./ingress.ts";
import type { ItemEncoder, StreamEnd } from "./sse.ts";

type Outcome =
  | { native: true; reply: Reply<unknown> }
  | { native: true; open: Opened<SseFrame> }
  | { native: false; reply: Reply<ChatResponse> }
  | { native: false; open: Opened<Piece> };

function nativeOptions(x: Exchange, t: AttemptTarget): NativeMessagesOptions {
  const version = x.request.headers.get("anthropic-version") ?? undefined;
  const beta = x.request.headers.get("anthropic-beta") ?? undefined;
  return { model: t.model, signal: t.signal, requestId: t.requestId, headers: t.headers, version, beta };
}

export function messagesHandler(deps: IngressDeps) {
  const { gateway } = deps;
  return ingressHandler(deps, {
    route: "/v1/messages",
    errorReply,
    async run(x, body) {
      const req = validateMessages(body);
      x.rec.model = req.model;
      const route = x.route(req.model);
      const stream = req.stream === true;
      const raw = body as Record<string, unknown>;
      const created = Math.floor(Date.now() / 1000);
      const out = await gateway.dispatcher.run<Outcome>(route, x.ctrl, async (t, keep) => {
        const native = t.provider.nativeMessages;
        if (native) {
          const o = nativeOptions(x, t);
          return stream ? { native: true, open: await opened(native.messagesStream(raw, o), t, keep) } : { native: true, reply: await native.messages(raw, o) };
        }
        const chat = { ...toChatRequest(req, { reasoning: true }), model: req.model };
        return stream
          ? { native: false, open: await opened(t.provider.chatStream(chat, t), t, keep) }
          : { native: false, reply: await t.provider.chat(chat, t) };
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
function relayNative(x: Exchange, open: Opened<SseFrame>, headers: Record<string, string>): Response {
  const usage: Record<string, unknown> = {};
  const encoder: ItemEncoder<SseFrame, null> = {
    step: (_s, f) => [f.event === undefined ? { data: null, raw: f.data } : { event: f.event, data: null, raw: f.data }],
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
  return x.sseItems(open, encoder, null, observe, headers);
}

export function countTokensHandler(deps: IngressDeps) {
  const { gateway } = deps;
  return ingressHandler(deps, {
    route: "/v1/messages/count_tokens",
    errorReply,
    async run(x, body) {
      const req = validateCountTokens(body);
      x.rec.model = req.model;
      const route = x.route(req.model);
      const raw = body as Record<string, unknown>;
      // Anthropic's own count where the target has one; otherwise the documented estimate (see docs/anthropic.md).
      const counted = await gateway.dispatcher.run<Reply<unknown> | undefined>(route, x.ctrl, async (t) => {
        const native = t.provider.nativeMessages?.countTokens;
        return native ? native.call(t.provider.nativeMessages, raw, nativeOptions(x, t)) : undefined;
      });
      if (counted) return x.json(counted.raw ?? JSON.stringify(counted.value));
      return x.json(JSON.stringify({ input_tokens: estimateTokens(req as MessagesRequest) }));
    },
  });
}
