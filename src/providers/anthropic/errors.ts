// Anthropic failures → AlloyError. HTTP error bodies and mid-stream `error` events carry the same
// `{"type":"error","error":{"type","message"}}`; the error type decides the status where there is no HTTP status.
import { upstreamError, type AlloyError } from "../../errors.ts";
import type { ParsedError } from "../upstream.ts";
import { own } from "../../util/own.ts";

/** Anthropic's documented error types and the HTTP status each is sent with. */
const STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** The OpenAI type/code a client sees for an Anthropic 4xx (5xx and 429 get Alloy's own, see errors.ts). */
function openaiShape(type: string, message: string): { type: string; code: string | null } {
  switch (type) {
    case "authentication_error":
      return { type, code: "invalid_api_key" };
    case "not_found_error":
      // The Messages endpoint answers 404 for an unknown model ("model: claude-…").
      return { type: "invalid_request_error", code: message.startsWith("model:") ? "model_not_found" : null };
    case "request_too_large":
      return { type: "invalid_request_error", code: "request_too_large" };
    default:
      return { type, code: null };
  }
}

/** Parser for errorFromResponse(): pulls message and type out of an Anthropic error body. */
export function parseAnthropicError(json: unknown): ParsedError | undefined {
  const e = (json as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  if (!e || typeof e !== "object") return undefined;
  const message = typeof e.message === "string" ? e.message : undefined;
  if (typeof e.type !== "string") return { message };
  return { message, ...openaiShape(e.type, message ?? "") };
}

/** An `event: error` inside a stream (e.g. overloaded_error after message_start). */
export function streamError(e: { type: string; message: string }): AlloyError {
  const status = own(STATUS, e.type) ?? 500;
  return upstreamError(status, e.message || `Anthropic stream error (${e.type})`, {
    upstreamType: e.type,
    ...(status < 500 && status !== 429 ? openaiShape(e.type, e.message) : {}),
  });
}
