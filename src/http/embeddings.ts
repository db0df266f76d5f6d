// POST /v1/embeddings: the OpenAI Embeddings dialect. Decode (validate), one dispatch to the providers that serve
// embeddings (passthrough to OpenAI-type upstreams, Titan/Cohere on Bedrock, the mock's vectors), encode (the
// upstream's bytes when unchanged, else the list in the encoding asked for). Failover only along an alias's own
// targets: fallback_order names chat models, whose vectors (if any) would not be comparable.
import { AlloyError } from "../errors.ts";
import { validateEmbeddingsRequest } from "../dialects/embeddings/decode.ts";
import { embeddingsUsage, encodeEmbeddings } from "../dialects/embeddings/encode.ts";
import { embeddingsErrorReply } from "../dialects/embeddings/errors.ts";
import type { EmbeddingsResponse, RelayedEmbeddings } from "../dialects/embeddings/schema.ts";
import { namedTargetsOnly } from "../gateway/route.ts";
import type { Reply } from "../providers/provider.ts";
import { ROUTES } from "../routes.ts";
import { ingressHandler, type IngressDeps } from "./ingress.ts";

/** `skipTarget`: inside an attempt, a target without embeddings is passed over for the alias's next one. */
const notServed = (model: string) =>
  new AlloyError("bad_request", `The model '${model}' does not serve embeddings`, { param: "model", code: "model_not_supported", skipTarget: true });

export function embeddingsHandler(deps: IngressDeps) {
  const { gateway } = deps;
  return ingressHandler(deps, {
    route: ROUTES.embeddings,
    errorReply: embeddingsErrorReply,
    async run(x, body) {
      const { req, inputs } = validateEmbeddingsRequest(body);
      const route = namedTargetsOnly(x.route(req.model));
      // Refused before any slot is taken when no target of the route has embeddings (an Anthropic model).
      if (!route.steps.some((s) => s.deployments.some((d) => gateway.upstreams.get(d.provider)?.provider.embeddings))) throw notServed(req.model);
      const reply = await gateway.dispatcher.run<Reply<EmbeddingsResponse> | RelayedEmbeddings>(route, x.ctrl, (t) => {
        if (!t.provider.embeddings) throw notServed(req.model);
        return t.provider.embeddings(req, inputs, t);
      });
      if (!("value" in reply)) {
        // Relayed: the upstream's bytes, with what the gateway needs found in them.
        x.rec.usage = embeddingsUsage(reply.usage);
        if (reply.model) x.ctrl.trace?.answer(reply.model);
        return x.json(reply.raw);
      }
      x.rec.usage = embeddingsUsage(reply.value.usage);
      x.ctrl.trace?.answer(reply.value.model);
      if (reply.raw !== undefined) return x.json(reply.raw);
      return x.json(JSON.stringify(encodeEmbeddings(reply.value, req.encoding_format)));
    },
  });
}
