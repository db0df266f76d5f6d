// Anthropic error bodies and stream error events → AlloyError (status, OpenAI type/code, retryability).
import { describe, expect, test } from "bun:test";
import { errorFromResponse } from "../../src/providers/upstream.ts";
import { parseAnthropicError, streamError } from "../../src/providers/anthropic/errors.ts";

const body = (type: string, message: string) => ({ type: "error", error: { type, message } });
const http = (status: number, type: string, message: string, headers: Record<string, string> = {}) =>
  errorFromResponse(new Response(JSON.stringify(body(type, message)), { status, headers }), "anthropic", parseAnthropicError);

describe("Anthropic errors", () => {
  test("4xx keep their status and message, in OpenAI's error shape, and are not retryable", async () => {
    const cases: Array<[number, string, string, string | null]> = [
      [400, "invalid_request_error", "invalid_request_error", null],
      [401, "authentication_error", "authentication_error", "invalid_api_key"],
      [403, "permission_error", "permission_error", null],
      [404, "not_found_error", "invalid_request_error", "model_not_found"],
      [413, "request_too_large", "invalid_request_error", "request_too_large"],
    ];
    for (const [status, type, wantType, wantCode] of cases) {
      const e = await http(status, type, type === "not_found_error" ? "model: claude-nope" : `msg for ${type}`);
      expect(e.status).toBe(status);
      expect(e.retryable).toBe(false);
      expect(e.toBody().error).toMatchObject({ type: wantType, code: wantCode });
      expect(e.message).toBe(type === "not_found_error" ? "model: claude-nope" : `msg for ${type}`);
    }
  });

  test("429 is retryable and carries retry-after; 529 overloaded becomes a retryable 503; 500 a 502", async () => {
    const rl = await http(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", { "retry-after": "7" });
    expect([rl.status, rl.kind, rl.retryable, rl.retryAfterMs]).toEqual([429, "rate_limit", true, 7000]);
    const ov = await http(529, "overloaded_error", "Overloaded");
    expect([ov.status, ov.kind, ov.retryable, ov.message]).toEqual([503, "overloaded", true, "Overloaded"]);
    const api = await http(500, "api_error", "Internal server error");
    expect([api.status, api.kind, api.retryable]).toEqual([502, "server", true]);
  });

  test("a body that is not Anthropic's shape still classifies by status", async () => {
    const e = await errorFromResponse(new Response("<html>bad gateway</html>", { status: 413 }), "anthropic", parseAnthropicError);
    expect(e.status).toBe(413);
    expect(parseAnthropicError({ nope: 1 })).toBeUndefined();
  });

  test("stream error events classify by their type", () => {
    const ov = streamError({ type: "overloaded_error", message: "Overloaded" });
    expect([ov.status, ov.kind, ov.message, ov.upstreamType]).toEqual([503, "overloaded", "Overloaded", "overloaded_error"]);
    expect(streamError({ type: "rate_limit_error", message: "slow down" }).kind).toBe("rate_limit");
    expect(streamError({ type: "api_error", message: "boom" }).status).toBe(502);
    const bad = streamError({ type: "invalid_request_error", message: "bad" });
    expect([bad.status, bad.type]).toEqual([400, "invalid_request_error"]);
    expect(streamError({ type: "never_seen_error", message: "?" }).kind).toBe("server");
  });
});
