// Real requests from the clients this dialect exists for, recorded by test/fixtures/capture-responses.ts against a
// loopback server: Codex CLI 0.171.0 (`codex exec "say hi"`, its default model and `-m gpt-5.1-codex`) and the
// OpenAI Agents SDK 0.20.0 (`run(new Agent({…, tools: [get_weather]}), "hi")`).
import { describe, expect, test } from "bun:test";
import { toChatRequest, validateResponses } from "../../src/dialects/responses/decode.ts";
import { validateChatRequest } from "../../src/openai/validate.ts";
import type { Captured } from "../fixtures/capture-responses.ts";

// Read, not imported: typing 140 KB of recorded JSON would only slow tsc down.
const fixture = (name: string): Promise<Captured[]> => Bun.file(new URL(`../fixtures/${name}`, import.meta.url)).json();
const codexDefault = await fixture("codex-request.json");
const codexNamed = await fixture("codex-request-gpt-5.1-codex.json");
const agents = await fixture("agents-request.json");

const post = (log: Captured[]) => log.find((c) => c.method === "POST" && c.path === "/v1/responses")!;

describe("Codex", () => {
  test("tries a WebSocket on GET /v1/responses first, then POSTs a streamed request", () => {
    for (const log of [codexDefault, codexNamed]) {
      expect(log.map((c) => `${c.method} ${c.path}`)).toEqual(["GET /v1/responses", "POST /v1/responses"]);
      expect(log[0]!.headers.upgrade).toBe("websocket");
      expect(log[0]!.headers["openai-beta"]).toStartWith("responses_websockets=");
      expect(log[1]!.headers.accept).toBe("text/event-stream");
      expect(log[1]!.headers.authorization).toStartWith("<redacted Bearer");
    }
  });

  test("with -m gpt-5.1-codex: function tools, a namespace (flattened) and web_search (dropped)", () => {
    const req = validateResponses(post(codexNamed).body);
    expect(req.stream).toBe(true);
    expect(req.store).toBe(false);
    expect(req.include).toEqual(["reasoning.encrypted_content"]);
    const { chat, dropped, inputItems, toolNames } = toChatRequest(req, [], { responseId: "resp_codex" });
    expect(dropped).toEqual(["web_search"]);
    const names = (chat.tools ?? []).map((t) => (t.type === "function" ? t.function.name : t.type));
    expect(names).toContain("exec_command");
    expect(names).toContain("view_image");
    // The multi_agent_v1 namespace's members, each as `<namespace>__<name>`, mapped back for the answer.
    expect(names).toContain("multi_agent_v1__close_agent");
    expect(toolNames.get("multi_agent_v1__close_agent")).toEqual({ name: "close_agent", namespace: "multi_agent_v1", custom: false });
    expect(names.every((n) => /^[a-zA-Z0-9_-]{1,64}$/.test(n))).toBe(true);
    expect(chat.tools!.every((t) => t.type === "function" && t.function.strict === false)).toBe(true);
    expect(chat.messages[0]!.role).toBe("developer"); // Codex sends its instructions as developer messages
    expect(chat.messages.at(-1)).toEqual({ role: "user", content: [{ type: "text", text: "say hi" }] });
    expect(chat.stream).toBe(true);
    expect(chat.stream_options).toEqual({ include_usage: true });
    expect(chat.parallel_tool_calls).toBe(true);
    expect(chat.tool_choice).toBe("auto");
    expect(inputItems.length).toBe(req.input!.length);
    expect(validateChatRequest(chat)).toBe(chat);
  });

  test("default model: tools arrive as namespaces in an additional_tools input item, flattened for chat targets", () => {
    const req = validateResponses(post(codexDefault).body);
    const items = req.input as { type?: string }[];
    expect(items[0]!.type).toBe("additional_tools");
    expect(req.tools).toBeUndefined();
    const { chat, dropped, toolNames } = toChatRequest(req, []);
    const names = (chat.tools ?? []).map((t) => (t.type === "function" ? t.function.name : t.type));
    expect(names).toContain("functions__exec");
    expect(names).toContain("clock__sleep");
    expect(names).toContain("collaboration__spawn_agent");
    expect(names.every((n) => /^[a-zA-Z0-9_-]{1,64}$/.test(n))).toBe(true);
    // `exec` is a custom (grammar) tool: a function taking {input: string}, its calls mapped back to custom_tool_call.
    expect(toolNames.get("functions__exec")).toEqual({ name: "exec", namespace: "functions", custom: true });
    const exec = chat.tools!.find((t) => t.type === "function" && t.function.name === "functions__exec");
    expect(exec?.type === "function" && exec.function.parameters).toEqual({ type: "object", properties: { input: { type: "string" } }, required: ["input"], additionalProperties: false });
    expect(dropped).toEqual([]);
    expect(chat.messages.filter((m) => m.role === "developer").length).toBe(4);
    expect(chat.messages.at(-1)).toEqual({ role: "user", content: [{ type: "text", text: "say hi" }] });
    expect(chat.reasoning_effort).toBe("low");
    expect(validateChatRequest(chat)).toBe(chat);
  });
});

describe("Agents SDK", () => {
  test("a non-streamed request with instructions and a strict function tool", () => {
    const c = post(agents);
    expect(c.headers["user-agent"]).toStartWith("Agents/JavaScript");
    const req = validateResponses(c.body);
    const { chat, dropped } = toChatRequest(req, []);
    expect(dropped).toEqual([]);
    expect(chat.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "hi" },
    ]);
    expect(chat.tools).toEqual([
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather in a city",
          parameters: (req.tools![0] as { parameters: Record<string, unknown> }).parameters,
          strict: true,
        },
      },
    ]);
    expect(chat.stream).toBeUndefined();
    expect(validateChatRequest(chat)).toBe(chat);
  });
});
