// A fault in Alloy's own code is a non-retryable 500 internal_error: governance must not retry or fail over on it,
// which would hide the bug behind a healthy second target.
import { describe, expect, test } from "bun:test";
import { AlloyError, asAlloyError } from "../../src/errors.ts";
import { Dispatcher, type Upstream } from "../../src/gateway/dispatch.ts";
import { RequestControl } from "../../src/gateway/control.ts";
import { Balancer } from "../../src/governance/balance.ts";
import { Limiter } from "../../src/governance/limiter.ts";
import type { Provider } from "../../src/providers/provider.ts";
import type { ChatResponse } from "../../src/openai/schema.ts";
import { transportError } from "../../src/providers/upstream.ts";

describe("asAlloyError", () => {
  test("an unknown throw is an internal 500, never retryable", () => {
    const e = asAlloyError(new TypeError("undefined is not an object (evaluating 'p.choices[0]')"));
    expect(e.kind).toBe("internal");
    expect(e.status).toBe(500);
    expect(e.code).toBe("internal_error");
    expect(e.retryable).toBe(false);
    expect(e.message).not.toContain("choices"); // the client sees no source text; the log gets the stack
    expect(e.cause).toBeInstanceOf(TypeError);
  });

  test("transport failures are classified where they happen, retryable, without the address", () => {
    const e = transportError("openai", Object.assign(new Error('Malformed_HTTP_Response fetching "http://10.1.2.3:8080/v1"'), { code: "Malformed_HTTP_Response" }));
    expect(e.kind).toBe("network");
    expect(e.retryable).toBe(true);
    expect(e.message).toBe("openai: upstream connection failed (malformed HTTP response)");
  });
});

describe("dispatch on an internal fault", () => {
  test("one attempt, no retry, no failover", async () => {
    const calls: string[] = [];
    const ok: ChatResponse = { id: "x", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "hi", refusal: null }, finish_reason: "stop", logprobs: null }] };
    const provider = (name: string, fault: boolean): Provider => ({
      name,
      async chat() {
        calls.push(name);
        if (fault) throw new TypeError("translator bug");
        return { value: ok };
      },
      async *chatStream() {},
    });
    const upstreams = new Map<string, Upstream>([
      ["a", { provider: provider("a", true), limiter: new Limiter(4), timeoutMs: 1000 }],
      ["b", { provider: provider("b", false), limiter: new Limiter(4), timeoutMs: 1000 }],
    ]);
    const gov = { max_retries: 3, failover_enabled: true, fallback_order: [], backoff_base_ms: 0, backoff_max_ms: 0, breaker_failures: 5, breaker_cooldown_secs: 1 } as never;
    const d = new Dispatcher(upstreams, gov, new Balancer({ failures: 5, cooldownMs: 1000 }));
    const route = { steps: [{ deployments: [{ provider: "a", model: "m", weight: 1 }] }, { deployments: [{ provider: "b", model: "m", weight: 1 }] }] } as never;
    const ctx = new RequestControl("r1", 5000, { attempts: 0, retries: 0, failovers: 0 });
    const err = await d.chat({ model: "m", messages: [{ role: "user", content: "hi" }] }, route, ctx).catch((e) => e);
    expect(err).toBeInstanceOf(AlloyError);
    expect((err as AlloyError).kind).toBe("internal");
    expect(calls).toEqual(["a"]);
  });
});

describe("a backing service that fails on a request's path", () => {
  test("a StoreError is a 503 that names no service, with the store's message kept as the cause", async () => {
    const { StoreError } = await import("../../src/store/error.ts");
    const cause = new StoreError("store postgres://alloy@db.internal:5432/alloy: connection refused");
    const e = asAlloyError(cause);
    expect(e.kind).toBe("unavailable");
    expect(e.status).toBe(503);
    expect(e.retryAfterMs).toBe(1000);
    expect(e.message).not.toContain("db.internal");
    expect(e.cause).toBe(cause);
  });
});
