// AlloyError → the OpenAI error response. The one place a failure becomes HTTP.
import { AlloyError } from "../errors.ts";

const JSON_HEADERS = { "content-type": "application/json" } as const;

export function errorHeaders(err: AlloyError, requestId: string, extra?: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { ...JSON_HEADERS, "x-request-id": requestId, ...extra };
  if (err.retryAfterMs !== undefined && (err.status === 429 || err.status === 503 || err.status === 504))
    h["retry-after"] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  // Out of budget: waiting will not help (OpenAI's SDKs read this and do not retry).
  if (err.code === "insufficient_quota") h["x-should-retry"] = "false";
  return h;
}

export function errorResponse(err: AlloyError, requestId: string, extra?: Record<string, string>): Response {
  // 499 is ours for a client that left; nobody reads it, but it must not look like a server failure in logs.
  return new Response(JSON.stringify(err.toBody()), { status: err.status, headers: errorHeaders(err, requestId, extra) });
}
