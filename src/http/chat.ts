// POST /v1/chat/completions: the OpenAI Chat Completions dialect. Decode (validate), run (one dispatch, or the MCP
// tool loop when the request names MCP tools), encode (the answer as it is, its upstream bytes when unchanged).
import { ROUTES } from "../routes.ts";
import { chatErrorReply } from "../dialects/chat/errors.ts";
import { chatRelay, chatStream, observeRelay } from "../dialects/chat/stream.ts";
import { opened, type Opened, type OpenStream } from "../gateway/dispatch.ts";
import type { RelayedChat, RelayEvent } from "../providers/openai/scan.ts";
import type { ChatResponse } from "../openai/schema.ts";
import type { Reply } from "../providers/provider.ts";
import { mcpChat, mcpStream, planForRequest } from "../mcp/governed-loop.ts";
import { tapStream } from "../observability/text.ts";
import { validateChatRequest } from "../openai/validate.ts";
import { ingressHandler, type IngressDeps } from "./ingress.ts";

type Relayed = { relay: Opened<RelayEvent[]> } | { pieces: OpenStream };

export function chatHandler(deps: IngressDeps) {
  const { gateway, observer, mcp } = deps;
  const mcpDeps = { mcp, config: gateway.config.mcp, dispatcher: gateway.dispatcher };
  return ingressHandler(deps, {
    route: ROUTES.chat,
    errorReply: chatErrorReply,
    async run(x, body) {
      const req = validateChatRequest(body);
      x.ctrl.trace?.chat(req);
      observer.text?.(x.requestId, "prompt", req.messages);
      const route = x.route(req.model);
      const plan = planForRequest(req, route, mcp, x.caller);

      if (req.stream !== true) {
        if (!plan && !observer.text && !x.ctrl.trace?.capture) {
          // Nothing reads the answer on its way: a same-dialect target relays its bytes (scanned when large).
          const out = await gateway.dispatcher.run<RelayedChat | Reply<ChatResponse>>(route, x.ctrl, (t) =>
            t.provider.chatRelay ? t.provider.chatRelay.relayChat(req, t) : t.provider.chat(req, t),
          );
          if (!("value" in out)) {
            x.rec.usage = out.usage;
            x.rec.finishReason = out.finish;
            if (out.model) x.ctrl.trace?.answer(out.model);
            return x.json(out.raw);
          }
          const res = out.value;
          x.rec.usage = res.usage;
          x.rec.finishReason = res.choices[0]?.finish_reason;
          x.ctrl.trace?.answer(res.model, res.choices[0]?.message);
          return x.json(out.raw ?? JSON.stringify(res));
        }
        const reply = plan ? { value: await mcpChat(plan, mcpDeps, route, x.ctrl) } : await gateway.dispatcher.chat(req, route, x.ctrl);
        const res = reply.value;
        observer.text?.(x.requestId, "completion", res.choices[0]?.message);
        x.rec.usage = res.usage;
        x.rec.finishReason = res.choices[0]?.finish_reason;
        x.ctrl.trace?.answer(res.model, res.choices[0]?.message);
        // Passthrough answers (not rebuilt by the MCP loop) go out as the upstream's own bytes.
        return x.json(reply.raw ?? JSON.stringify(res));
      }

      const state = { includeUsage: req.stream_options?.include_usage === true };
      if (!plan && !observer.text && !x.ctrl.trace?.capture) {
        // Nothing between the upstream and the client reads the chunks: a target that streams OpenAI chunks itself
        // is relayed event by event (scanned, not parsed); any other target is translated as usual.
        const out = await gateway.dispatcher.run<Relayed>(route, x.ctrl, async (t, keep) =>
          t.provider.chatRelay
            ? { relay: await opened(t.provider.chatRelay.relayChatStream(req, t), t, keep) }
            : { pieces: await opened(t.provider.chatStream(req, t), t, keep) },
        );
        return "relay" in out ? x.sseItems(out.relay, chatRelay, state, observeRelay) : x.sse(out.pieces, chatStream, state);
      }
      const open = plan ? await mcpStream(plan, mcpDeps, route, x.ctrl) : await gateway.dispatcher.stream(req, route, x.ctrl);
      // Debug logging only: the completion text is gathered as it streams past.
      let rest = observer.text ? tapStream(open.first, open.rest, (m) => observer.text?.(x.requestId, "completion", m)) : open.rest;
      // Traces get the answer text only with capture_content on (the same tap, gathered for the span).
      const trace = x.ctrl.trace;
      if (trace?.capture) rest = tapStream(open.first, rest, (m) => trace.answer(undefined, m));
      return x.sse({ first: open.first, rest }, chatStream, state);
    },
  });
}
