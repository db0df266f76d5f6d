// AlloyError → the error Anthropic's clients expect: `{"type":"error","error":{"type","message"},"request_id"}` with
// Anthropic's documented types and statuses (https://docs.claude.com/en/api/errors). The same body is the `data` of
// a mid-stream `event: error`.
import type { ErrorKind, AlloyError } from "../../errors.ts";
import type { ErrorReply } from "../dialect.ts";
import type { AnthropicErrorBody } from "./schema.ts";

/**
 * Choices where Alloy's kinds have no exact Anthropic twin:
 * - `network` / `server` (Alloy's 502 upstream failures) → 500 `api_error`: Anthropic documents no 502, and 500 is
 *   what its SDKs and Claude Code treat as "retry later".
 * - `timeout` → 504 `timeout_error`, the type the official SDK defines (GatewayTimeoutErrorObject).
 * - `overloaded` (an upstream 503/529) → 529 `overloaded_error`, as Anthropic itself answers.
 * - `unavailable` (no target could take the request now: none active, queue deadline passed) → 529 too: to an
 *   Anthropic client it is the API being temporarily unable to serve, and 529 makes it back off and retry.
 * - `unprocessable` (422/424) keeps its status: "we may also use invalid_request_error for other 4XX status codes".
 * - `cancelled` (499): the client left and reads nothing; api_error keeps the body well-formed.
 */
const SHAPE: Record<ErrorKind, { status: number | "keep"; type: string }> = {
  bad_request: { status: 400, type: "invalid_request_error" },
  auth: { status: 401, type: "authentication_error" },
  permission: { status: 403, type: "permission_error" },
  not_found: { status: 404, type: "not_found_error" },
  too_large: { status: 413, type: "request_too_large" },
  unprocessable: { status: "keep", type: "invalid_request_error" },
  rate_limit: { status: 429, type: "rate_limit_error" },
  overloaded: { status: 529, type: "overloaded_error" },
  timeout: { status: 504, type: "timeout_error" },
  network: { status: 500, type: "api_error" },
  server: { status: 500, type: "api_error" },
  unavailable: { status: 529, type: "overloaded_error" },
  shutting_down: { status: 529, type: "overloaded_error" },
  internal: { status: 500, type: "api_error" },
  cancelled: { status: 499, type: "api_error" },
};

export function errorBody(err: AlloyError, requestId: string): AnthropicErrorBody {
  return { type: "error", error: { type: SHAPE[err.kind].type, message: err.publicMessage }, request_id: requestId };
}

export function errorReply(err: AlloyError, requestId: string): ErrorReply {
  const s = SHAPE[err.kind];
  const status = s.status === "keep" ? err.status : s.status;
  const reply: ErrorReply = { status, body: errorBody(err, requestId) };
  // Anthropic sends retry-after in whole seconds; the SDKs honour it (and Claude Code backs off by it).
  if (err.retryAfterMs !== undefined && err.retryAfterMs >= 0) reply.headers = { "retry-after": String(Math.ceil(err.retryAfterMs / 1000)) };
  return reply;
}
