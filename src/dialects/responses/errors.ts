// Failures before the stream began, as Responses clients expect them: OpenAI's error body
// (`{"error":{"message","type","param","code"}}`, the same as Chat Completions) with the error's status.
// After the stream began a failure is a `response.failed` event instead (stream.ts).
import type { AlloyError } from "../../errors.ts";
import type { ErrorReply } from "../dialect.ts";

export function errorReply(err: AlloyError): ErrorReply {
  const reply: ErrorReply = { status: err.status, body: err.toBody() };
  // Retry-After in whole seconds, on the statuses where a client may act on it.
  if (err.retryAfterMs !== undefined && (err.status === 429 || err.status === 503 || err.status === 504))
    reply.headers = { "retry-after": String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) };
  return reply;
}
