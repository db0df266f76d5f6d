// Every model route, one line each: its path and the handler that decodes, dispatches and encodes its dialect.
// A new ingress dialect is its codec folder in src/dialects/, its thin route file, and one line here.
import { ROUTES } from "../routes.ts";
import { chatHandler } from "./chat.ts";
import { embeddingsHandler } from "./embeddings.ts";
import type { IngressDeps, IngressHandler } from "./ingress.ts";
import { countTokensHandler, messagesHandler } from "./messages.ts";
import { responsesHandler } from "./responses.ts";

export const ingressRoutes: Array<{ path: string; handler: (deps: IngressDeps) => IngressHandler }> = [
  { path: ROUTES.chat, handler: chatHandler },
  { path: ROUTES.messages, handler: messagesHandler },
  { path: ROUTES.countTokens, handler: countTokensHandler },
  { path: ROUTES.embeddings, handler: embeddingsHandler },
  { path: ROUTES.responses, handler: responsesHandler },
];
