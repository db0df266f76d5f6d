// A real Claude Code request (test/fixtures/claude-code-request.json, captured by test/fixtures/capture-claude-code.ts;
// what it contains is described in test/fixtures/README.md) through the Anthropic dialect's decode side.
import { describe, expect, test } from "bun:test";
import { estimateTokens } from "../../src/dialects/anthropic/count.ts";
import { toChatRequest, validateMessages } from "../../src/dialects/anthropic/decode.ts";
import { validateChatRequest } from "../../src/openai/validate.ts";

const fixture = (await Bun.file(new URL("../fixtures/claude-code-request.json", import.meta.url)).json()) as {
  request: { method: string; path: string; headers: Record<string, string> };
  body: Record<string, unknown>;
};

describe("Claude Code's request", () => {
  test("the capture is the streamed beta Messages call, key redacted", () => {
    expect(fixture.request.method).toBe("POST");
    expect(fixture.request.path).toBe("/v1/messages?beta=true");
    expect(fixture.request.headers["anthropic-version"]).toBe("2023-06-01");
    expect(fixture.request.headers["anthropic-beta"]).toContain("claude-code-20250219");
    expect(fixture.request.headers["x-api-key"]).toBe("<redacted>");
  });

  test("validateMessages accepts it as sent (cache_control, JSON Schema 2020-12 tools, defer_loading, thinking.display, context_management)", () => {
    const req = validateMessages(fixture.body);
    expect(req).toBe(fixture.body as never);
    expect(req.stream).toBe(true);
    expect(req.thinking?.type).toBe("enabled");
    expect(req.context_management).toBeDefined();
    expect(req.tools!.length).toBeGreaterThanOrEqual(10);
    expect(req.tools!.some((t) => (t as { input_schema?: { $schema?: string } }).input_schema?.$schema === "https://json-schema.org/draft/2020-12/schema")).toBe(true);
  });

  test("toChatRequest translates it into a valid Chat Completions request", () => {
    const req = validateMessages(fixture.body);
    const out = toChatRequest(req, { reasoning: true });
    expect(() => validateChatRequest(out)).not.toThrow();

    // System blocks → one system message without the billing attribution line; cache_control gone everywhere.
    const sys = out.messages[0]!;
    expect(sys.role).toBe("system");
    const systemText = sys.content as string;
    expect(systemText.length).toBeGreaterThan(20_000);
    expect(systemText).not.toContain("x-anthropic-billing-header");
    expect(systemText.startsWith("You are a Claude agent")).toBe(true);
    expect(JSON.stringify(out)).not.toContain("cache_control");

    // The user turn: every text block kept, the prompt last.
    expect(out.messages.length).toBe(2);
    const parts = out.messages[1]!.content as { type: string; text: string }[];
    expect(parts.every((p) => p.type === "text")).toBe(true);
    expect(parts.at(-1)!.text).toBe("say hi");

    // Tools → function tools, the 2020-12 schemas passed on as given.
    const tools = req.tools as { name: string; input_schema: unknown }[];
    expect(out.tools!.map((t) => (t.type === "function" ? t.function.name : ""))).toEqual(tools.map((t) => t.name));
    expect(out.tools!.map((t) => (t.type === "function" ? t.function.parameters : undefined))).toEqual(tools.map((t) => t.input_schema) as never);

    // thinking budget 31999 → high; max_tokens; the JSON-string user_id; streaming with usage.
    expect(out.reasoning_effort).toBe("high");
    expect(out.max_completion_tokens).toBe(32000);
    expect(JSON.parse(out.user!)).toHaveProperty("session_id");
    expect(out.stream_options).toEqual({ include_usage: true });
    expect(out).not.toHaveProperty("context_management");
    expect(out).not.toHaveProperty("thinking");
  });

  test("the token estimate is in the range of a ~87 KB request", () => {
    const n = estimateTokens(validateMessages(fixture.body));
    expect(n).toBeGreaterThan(15_000);
    expect(n).toBeLessThan(30_000);
  });
});

// Claude Code for the newest models (here remapped to claude-opus-5-5) puts a `system` entry inside `messages`.
const newer = (await Bun.file(new URL("../fixtures/claude-code-request-system-in-messages.json", import.meta.url)).json()) as Record<string, unknown>;

describe("Claude Code's request with a system entry in messages", () => {
  test("is accepted and keeps the system text at its place", () => {
    const req = validateMessages(newer);
    expect(req.messages.some((m) => m.role === "system")).toBe(true);
    const out = toChatRequest(req, { reasoning: true });
    expect(() => validateChatRequest(out)).not.toThrow();
    const at = req.messages.findIndex((m) => m.role === "system");
    const systems = out.messages.filter((m) => m.role === "system").map((m) => m.content as string);
    expect(systems.some((t) => t.includes("# Environment"))).toBe(true);
    expect(at).toBeGreaterThan(0);
  });
});
