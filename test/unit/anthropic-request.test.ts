// toAnthropicRequest: OpenAI Chat Completions requests → Anthropic Messages bodies, per translation.md. Every body
// produced here is also run through the mock's copy of Anthropic's validation rules.
import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import type { ChatRequest } from "../../src/openai/schema.ts";
import { toAnthropicRequest } from "../../src/providers/anthropic/request.ts";
import { validateMessages } from "../mocks/anthropic-upstream.ts";

const O = { model: "claude-sonnet-4-5", defaultMaxTokens: 4096 };

function translate(req: Omit<ChatRequest, "model"> & { model?: string }) {
  const t = toAnthropicRequest({ model: "anthropic/claude-sonnet-4-5", ...req } as ChatRequest, O);
  expect(validateMessages(t.body)).toBeUndefined();
  return t;
}

function rejects(req: Omit<ChatRequest, "model">): AlloyError {
  try {
    toAnthropicRequest({ model: "m", ...req } as ChatRequest, O);
  } catch (e) {
    expect(e).toBeInstanceOf(AlloyError);
    expect((e as AlloyError).status).toBe(400);
    return e as AlloyError;
  }
  throw new Error("expected a 400");
}

const weather = {
  type: "function" as const,
  function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
};

describe("toAnthropicRequest", () => {
  test("plain request: model, default max_tokens, a user turn", () => {
    const { body } = translate({ messages: [{ role: "user", content: "Hello" }] });
    expect(body).toEqual({ model: "claude-sonnet-4-5", max_tokens: 4096, messages: [{ role: "user", content: [{ type: "text", text: "Hello" }] }] });
  });

  test("system and developer messages anywhere join the top-level system, in order", () => {
    const { body } = translate({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
        { role: "user", content: "Again" },
      ],
    });
    expect(body.system).toBe("Be brief.\n\nAnswer in French.");
    expect(body.messages).toEqual([{ role: "user", content: [{ type: "text", text: "Hi" }, { type: "text", text: "Again" }] }]);
  });

  test("consecutive same-role messages merge so roles alternate", () => {
    const { body } = translate({
      messages: [
        { role: "user", content: "a" },
        { role: "user", content: "b" },
        { role: "assistant", content: "c" },
        { role: "assistant", content: "d" },
        { role: "user", content: "e" },
      ],
    });
    expect(body.messages.map((m) => [m.role, m.content.length])).toEqual([
      ["user", 2],
      ["assistant", 2],
      ["user", 1],
    ]);
  });

  test("max_completion_tokens wins over max_tokens; stop becomes stop_sequences; temperature clamped; top_p and user kept", () => {
    const { body } = translate({
      messages: [{ role: "user", content: "x" }],
      max_tokens: 100,
      max_completion_tokens: 50,
      stop: "END",
      temperature: 1.7,
      top_p: 0.9,
      user: "user-42",
    });
    expect(body.max_tokens).toBe(50);
    expect(body.stop_sequences).toEqual(["END"]);
    expect(body.temperature).toBe(1);
    expect(body.top_p).toBe(0.9);
    expect(body.metadata).toEqual({ user_id: "user-42" });
    expect(translate({ messages: [{ role: "user", content: "x" }], max_tokens: 77, stop: ["a", "\n", "b"], temperature: 0.3 }).body).toMatchObject({
      max_tokens: 77,
      stop_sequences: ["a", "b"],
      temperature: 0.3,
    });
  });

  test("image parts: data URLs become base64 blocks, https URLs url blocks", () => {
    const { body } = translate({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in these?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
          ],
        },
      ],
    });
    expect(body.messages[0]!.content).toEqual([
      { type: "text", text: "What is in these?" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
    ]);
  });

  test("unsupported images and audio are clear 400s naming the part", () => {
    const e1 = rejects({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/bmp;base64,Qk0=" } }] }] });
    expect(e1.message).toContain("image/bmp");
    expect(e1.param).toBe("messages[0].content[0].image_url.url");
    const e2 = rejects({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x/y.png" } }] }] });
    expect(e2.param).toBe("messages[0].content[0].image_url.url");
    rejects({ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AAA", format: "wav" } }] }] });
  });

  test("PDF file parts become document blocks", () => {
    const { body } = translate({
      messages: [{ role: "user", content: [{ type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } }, { type: "text", text: "Summarise" }] }],
    });
    expect(body.messages[0]!.content[0]).toEqual({ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" } });
  });

  test("tools, tool_choice and parallel_tool_calls", () => {
    const base = { messages: [{ role: "user" as const, content: "weather?" }], tools: [weather] };
    expect(translate(base).body.tools).toEqual([
      { name: "get_weather", description: "Weather for a city", input_schema: weather.function.parameters },
    ]);
    expect(translate(base).body.tool_choice).toBeUndefined();
    expect(translate({ ...base, tool_choice: "auto" }).body.tool_choice).toEqual({ type: "auto" });
    expect(translate({ ...base, tool_choice: "required" }).body.tool_choice).toEqual({ type: "any" });
    expect(translate({ ...base, tool_choice: "none" }).body.tool_choice).toEqual({ type: "none" });
    expect(translate({ ...base, tool_choice: { type: "function", function: { name: "get_weather" } } }).body.tool_choice).toEqual({
      type: "tool",
      name: "get_weather",
    });
    expect(translate({ ...base, parallel_tool_calls: false }).body.tool_choice).toEqual({ type: "auto", disable_parallel_tool_use: true });
    expect(translate({ ...base, tool_choice: "required", parallel_tool_calls: false }).body.tool_choice).toEqual({
      type: "any",
      disable_parallel_tool_use: true,
    });
    // A tool without parameters still gets the object schema Anthropic requires; tool_choice without tools is dropped.
    const bare = translate({ ...base, tools: [{ type: "function", function: { name: "now" } }] });
    expect(bare.body.tools![0]!.input_schema).toEqual({ type: "object", properties: {} });
    expect(translate({ messages: base.messages, tool_choice: "auto" }).body.tool_choice).toBeUndefined();
  });

  test("a tool round trip: tool_use blocks after the text, all results of one turn in one user message", () => {
    const { body } = translate({
      tools: [weather],
      messages: [
        { role: "user", content: "Weather in Paris and Rome?" },
        {
          role: "assistant",
          content: "Let me check.",
          tool_calls: [
            { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "toolu_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: "tool", tool_call_id: "toolu_1", content: "18C sunny" },
        { role: "tool", tool_call_id: "toolu_2", content: [{ type: "text", text: "22C" }] },
        { role: "user", content: "Thanks, which is warmer?" },
      ],
    });
    expect(body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Paris and Rome?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Rome" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "18C sunny" },
          { type: "tool_result", tool_use_id: "toolu_2", content: "22C" },
          { type: "text", text: "Thanks, which is warmer?" },
        ],
      },
    ]);
  });

  test("assistant with only tool calls (content null) and empty arguments", () => {
    const { body } = translate({
      messages: [
        { role: "user", content: "time?" },
        { role: "assistant", content: null, tool_calls: [{ id: "toolu_9", type: "function", function: { name: "now", arguments: "" } }] },
        { role: "tool", tool_call_id: "toolu_9", content: "" },
      ],
    });
    expect(body.messages[1]!.content).toEqual([{ type: "tool_use", id: "toolu_9", name: "now", input: {} }]);
    expect(body.messages[2]!.content).toEqual([{ type: "tool_result", tool_use_id: "toolu_9" }]);
  });

  test("unparseable or non-object tool arguments are a 400 naming the field", () => {
    const msgs = (args: string) => [
      { role: "user" as const, content: "x" },
      { role: "assistant" as const, content: null, tool_calls: [{ id: "t", type: "function" as const, function: { name: "f", arguments: args } }] },
    ];
    const e = rejects({ messages: msgs("{not json") });
    expect(e.param).toBe("messages[1].tool_calls[0].function.arguments");
    expect(e.message).toContain("not valid JSON");
    expect(rejects({ messages: msgs("[1,2]") }).message).toContain("JSON object");
  });

  test("no empty text blocks: empty and whitespace-only text is dropped, empty messages vanish", () => {
    const { body } = translate({
      messages: [
        { role: "system", content: "" },
        { role: "user", content: [{ type: "text", text: "" }, { type: "text", text: "hi" }, { type: "text", text: "  " }] },
        { role: "assistant", content: "" },
        { role: "user", content: "more" },
      ],
    });
    expect(body.system).toBeUndefined();
    expect(body.messages).toEqual([{ role: "user", content: [{ type: "text", text: "hi" }, { type: "text", text: "more" }] }]);
    expect(rejects({ messages: [{ role: "system", content: "only system" }] }).param).toBe("messages");
  });

  test("a final assistant prefill loses its trailing whitespace", () => {
    const { body } = translate({ messages: [{ role: "user", content: "Say hi" }, { role: "assistant", content: "Sure: " }] });
    expect(body.messages[1]!.content).toEqual([{ type: "text", text: "Sure:" }]);
  });

  test("response_format json_schema becomes a forced tool", () => {
    const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] };
    const t = translate({
      messages: [{ role: "user", content: "x" }],
      response_format: { type: "json_schema", json_schema: { name: "final answer", schema } },
    });
    expect(t.jsonTool).toEqual({ name: "final_answer", forced: true });
    expect(t.body.tools).toEqual([{ name: "final_answer", description: expect.any(String), input_schema: schema }]);
    expect(t.body.tool_choice).toEqual({ type: "tool", name: "final_answer" });
    // With client tools the model may still call them: the schema tool is offered, not forced.
    const withTools = translate({
      messages: [{ role: "user", content: "x" }],
      tools: [weather],
      response_format: { type: "json_schema", json_schema: { name: "get_weather", schema } },
    });
    expect(withTools.jsonTool).toEqual({ name: "json_response", forced: false });
    expect(withTools.body.tools!.map((x) => x.name)).toEqual(["get_weather", "json_response"]);
    expect(withTools.body.tool_choice).toBeUndefined();
  });

  test("n > 1 and the legacy function role are 400s", () => {
    expect(rejects({ messages: [{ role: "user", content: "x" }], n: 2 }).param).toBe("n");
    expect(rejects({ messages: [{ role: "function", name: "f", content: "x" }] }).param).toBe("messages[0].role");
  });
});
