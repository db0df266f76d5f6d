// Responses requests → unified chat requests. Request shapes follow OpenAI's API reference
// (https://platform.openai.com/docs/api-reference/responses/create) and its function-calling guide
// (https://platform.openai.com/docs/guides/function-calling?api-mode=responses).
import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import { toChatRequest, validateResponses } from "../../src/dialects/responses/decode.ts";
import type { ResponseItem } from "../../src/dialects/responses/schema.ts";
import { validateChatRequest } from "../../src/openai/validate.ts";

function rejects(body: unknown): AlloyError {
  try {
    validateResponses(body);
  } catch (e) {
    expect(e).toBeInstanceOf(AlloyError);
    expect((e as AlloyError).status).toBe(400);
    return e as AlloyError;
  }
  throw new Error("expected a 400");
}

describe("validateResponses", () => {
  test("accepts the reference's text, image and function-calling examples", () => {
    // "Text input" example of POST /v1/responses
    expect(validateResponses({ model: "gpt-4.1", input: "Tell me a three sentence bedtime story about a unicorn." }).model).toBe("gpt-4.1");
    // "Image input" example
    validateResponses({
      model: "gpt-4.1",
      input: [
        {
          role: "user",
          content: [
            { type: "input_text", text: "what is in this image?" },
            { type: "input_image", image_url: "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/Gfp-wisconsin-madison-the-nature-boardwalk.jpg/2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg" },
          ],
        },
      ],
    });
    // Function calling, second request of the guide (call + output sent back), with every other documented knob
    validateResponses({
      model: "gpt-4.1",
      instructions: "You are a weather bot.",
      input: [
        { role: "user", content: "What's the weather like in Paris today?" },
        { type: "function_call", id: "fc_12345xyz", call_id: "call_12345xyz", name: "get_weather", arguments: '{"location":"Paris, France"}' },
        { type: "function_call_output", call_id: "call_12345xyz", output: "14°C" },
        { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAAA" },
        { type: "item_reference", id: "msg_0" },
        { type: "web_search_call", id: "ws_1", status: "completed" },
      ],
      tools: [
        { type: "function", name: "get_weather", description: "Get current temperature for a given location.", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"], additionalProperties: false }, strict: true },
        { type: "mcp", server_label: "fs", server_url: "https://mcp.example.com", require_approval: "never", allowed_tools: ["read_file"] },
        { type: "web_search_preview" },
        { type: "file_search", vector_store_ids: ["vs_1"] },
        { type: "code_interpreter", container: { type: "auto" } },
      ],
      tool_choice: { type: "function", name: "get_weather" },
      parallel_tool_calls: false,
      text: { format: { type: "json_schema", name: "weather", schema: { type: "object" }, strict: true }, verbosity: "low" },
      reasoning: { effort: "high", summary: "auto" },
      max_output_tokens: 1024,
      temperature: 0.2,
      top_p: 0.9,
      metadata: { session: "abc" },
      store: false,
      previous_response_id: "resp_123",
      include: ["reasoning.encrypted_content"],
      stream: true,
      user: "user-1",
      prompt_cache_key: "k",
      service_tier: "auto",
      truncation: "auto",
      some_future_field: { anything: true },
    });
  });

  test("rejects malformed bodies with a 400 naming the parameter", () => {
    expect(rejects(null).param).toBeNull();
    expect(rejects({ input: "hi" }).param).toBe("model");
    expect(rejects({ model: "m", input: 5 }).param).toBe("input");
    expect(rejects({ model: "m", input: [{ role: "user", content: 5 }] }).param).toBe("input[0].content");
    expect(rejects({ model: "m", input: [{ role: "robot", content: "x" }] }).param).toBe("input[0].role");
    expect(rejects({ model: "m", input: [{ role: "user", content: [{ type: "input_text" }] }] }).param).toBe("input[0].content[0].text");
    expect(rejects({ model: "m", input: [{ role: "user", content: [{ type: "input_video", url: "x" }] }] }).param).toBe("input[0].content[0].type");
    expect(rejects({ model: "m", input: ["hi"] }).param).toBe("input[0].type");
    expect(rejects({ model: "m", input: [{ type: "function_call", name: "f", arguments: "{}" }] }).param).toBe("input[0].call_id");
    expect(rejects({ model: "m", input: [{ type: "function_call_output", call_id: "c", output: 1 }] }).param).toBe("input[0].output");
    expect(rejects({ model: "m", input: "x", tools: [{ type: "function", name: "bad name!" }] }).param).toBe("tools[0].name");
    expect(rejects({ model: "m", input: "x", tools: [{ name: "f" }] }).param).toBe("tools[0].type");
    expect(rejects({ model: "m", input: "x", tools: [{ type: "mcp" }] }).param).toBe("tools[0].server_label");
    expect(rejects({ model: "m", input: "x", tool_choice: { type: "function" } }).param).toBe("tool_choice.name");
    expect(rejects({ model: "m", input: "x", tool_choice: "sometimes" }).param).toBe("tool_choice");
    expect(rejects({ model: "m", input: "x", text: { format: { type: "json_schema", schema: {} } } }).param).toBe("text.format.name");
    expect(rejects({ model: "m", input: "x", temperature: 3 }).param).toBe("temperature");
    expect(rejects({ model: "m", input: "x", max_output_tokens: 0 }).param).toBe("max_output_tokens");
    expect(rejects({ model: "m", input: "x", metadata: { a: 1 } }).param).toBe("metadata");
    const e = rejects({ model: "m", input: "x", stream: "yes" });
    expect(e.param).toBe("stream");
    expect(e.toBody().error.type).toBe("invalid_request_error");
  });
});

describe("toChatRequest", () => {
  test("a string input becomes one user message after the instructions; the input item gets an id", () => {
    const req = validateResponses({ model: "gpt-4.1", instructions: "Talk like a pirate.", input: "Are semicolons optional in JavaScript?" });
    const { chat, inputItems, dropped } = toChatRequest(req, [], { responseId: "resp_abc" });
    expect(chat).toEqual({
      model: "gpt-4.1",
      messages: [
        { role: "system", content: "Talk like a pirate." },
        { role: "user", content: "Are semicolons optional in JavaScript?" },
      ],
    });
    expect(inputItems).toEqual([{ type: "message", id: "msg_abc_i0", role: "user", content: [{ type: "input_text", text: "Are semicolons optional in JavaScript?" }] }]);
    expect(dropped).toEqual([]);
    expect(validateChatRequest(chat)).toBe(chat);
  });

  test("items: parts, consecutive calls in one assistant turn, outputs as tool messages, reasoning dropped", () => {
    const req = validateResponses({
      model: "gpt-4.1",
      input: [
        { role: "developer", content: [{ type: "input_text", text: "Be terse." }] },
        {
          role: "user",
          content: [
            { type: "input_text", text: "what is in this image?" },
            { type: "input_image", image_url: "https://example.com/a.jpg", detail: "low" },
            { type: "input_file", filename: "a.pdf", file_data: "data:application/pdf;base64,AAAA" },
          ],
        },
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "thinking" }] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking two cities.", annotations: [] }] },
        { type: "function_call", id: "fc_1", call_id: "call_1", name: "get_weather", arguments: '{"location":"Paris"}' },
        { type: "function_call", id: "fc_2", call_id: "call_2", name: "get_weather", arguments: '{"location":"Bogotá"}' },
        { type: "function_call_output", call_id: "call_1", output: "14°C" },
        { type: "function_call_output", call_id: "call_2", output: [{ type: "input_text", text: "18" }, { type: "input_text", text: "°C" }] },
        { type: "function_call", call_id: "call_3", name: "get_time", arguments: "{}" },
      ],
    });
    const { chat, inputItems } = toChatRequest(req, [], { responseId: "resp_t" });
    expect(chat.messages).toEqual([
      { role: "developer", content: "Be terse." },
      {
        role: "user",
        content: [
          { type: "text", text: "what is in this image?" },
          { type: "image_url", image_url: { url: "https://example.com/a.jpg", detail: "low" } },
          { type: "file", file: { file_data: "data:application/pdf;base64,AAAA", filename: "a.pdf" } },
        ],
      },
      {
        role: "assistant",
        content: "Checking two cities.",
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
          { id: "call_2", type: "function", function: { name: "get_weather", arguments: '{"location":"Bogotá"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "14°C" },
      { role: "tool", tool_call_id: "call_2", content: "18°C" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_3", type: "function", function: { name: "get_time", arguments: "{}" } }] },
    ]);
    // ids kept where the client gave them, made up (from the response id) where not
    expect(inputItems.map((i) => (i as { id?: string }).id)).toEqual(["msg_t_i0", "msg_t_i1", "rs_1", "msg_t_i2", "fc_1", "fc_2", "item_t_i3", "item_t_i4", "fc_t_i5"]);
    expect(validateChatRequest(chat)).toBe(chat);
  });

  test("prior turns come first, their instructions do not; item references resolve against them", () => {
    const prior: ResponseItem[] = [
      { type: "message", id: "msg_p0", role: "user", content: [{ type: "input_text", text: "tell me a joke" }] },
      { type: "reasoning", id: "rs_p1", summary: [] },
      { id: "msg_p2", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Knock knock.", annotations: [], logprobs: [] }] },
    ];
    const req = validateResponses({ model: "m", instructions: "new rules", previous_response_id: "resp_prev", input: [{ type: "item_reference", id: "msg_p0" }, { role: "user", content: "again" }] });
    const { chat } = toChatRequest(req, prior);
    expect(chat.messages).toEqual([
      { role: "system", content: "new rules" },
      { role: "user", content: [{ type: "text", text: "tell me a joke" }] },
      { role: "assistant", content: "Knock knock." },
      { role: "user", content: [{ type: "text", text: "tell me a joke" }] },
      { role: "user", content: "again" },
    ]);
    expect(() => toChatRequest(validateResponses({ model: "m", input: [{ type: "item_reference", id: "msg_x" }, { role: "user", content: "hi" }] }), prior)).toThrow(/no earlier item/);
  });

  test("tools: functions keep strict, mcp entries pass, custom tools become {input} functions, built-ins are dropped and listed", () => {
    const req = validateResponses({
      model: "m",
      input: "hi",
      tools: [
        { type: "function", name: "get_weather", description: "d", parameters: { type: "object", properties: {} }, strict: true },
        { type: "function", name: "noargs" },
        { type: "mcp", server_label: "fs", server_url: "https://x", allowed_tools: { tool_names: ["read_file"] }, require_approval: "always" },
        { type: "web_search" },
        { type: "local_shell" },
        { type: "web_search" },
        { type: "custom", name: "apply_patch" },
      ],
      tool_choice: "required",
      parallel_tool_calls: false,
    });
    const { chat, dropped } = toChatRequest(req, []);
    expect(chat.tools as unknown[]).toEqual([
      { type: "function", function: { name: "get_weather", description: "d", parameters: { type: "object", properties: {} }, strict: true } },
      { type: "function", function: { name: "noargs" } },
      { type: "mcp", server_label: "fs", server_url: "https://x", allowed_tools: ["read_file"], require_approval: "always" },
      {
        type: "function",
        function: {
          name: "apply_patch",
          description: "Pass the tool's whole input as the string argument `input`.",
          parameters: { type: "object", properties: { input: { type: "string" } }, required: ["input"], additionalProperties: false },
        },
      },
    ]);
    expect(chat.tool_choice).toBe("required");
    expect(chat.parallel_tool_calls).toBe(false);
    expect(dropped).toEqual(["web_search", "local_shell"]);
    expect(validateChatRequest(chat)).toBe(chat);
  });

  test("tool_choice forms map to chat's; with every tool dropped there is no tool_choice at all", () => {
    const tools = [{ type: "function", name: "f" }, { type: "web_search" }];
    const choice = (tool_choice: unknown) => toChatRequest(validateResponses({ model: "m", input: "x", tools, tool_choice }), []).chat.tool_choice;
    expect(choice({ type: "function", name: "f" })).toEqual({ type: "function", function: { name: "f" } });
    expect(choice("none")).toBe("none");
    expect(choice({ type: "allowed_tools", mode: "required", tools: [{ type: "function", name: "f" }] })).toBe("required");
    expect(choice({ type: "web_search" })).toBe("auto");
    const onlyBuiltIn = toChatRequest(validateResponses({ model: "m", input: "x", tools: [{ type: "web_search" }], tool_choice: "required", parallel_tool_calls: true }), []).chat;
    expect(onlyBuiltIn.tools).toBeUndefined();
    expect(onlyBuiltIn.tool_choice).toBeUndefined();
    expect(onlyBuiltIn.parallel_tool_calls).toBeUndefined();
  });

  test("mcp per-tool approval filters are a 400 naming the field", () => {
    const req = validateResponses({ model: "m", input: "x", tools: [{ type: "mcp", server_label: "fs", require_approval: { never: { tool_names: ["a"] } } }] });
    try {
      toChatRequest(req, []);
      throw new Error("expected a 400");
    } catch (e) {
      expect((e as AlloyError).param).toBe("tools[0].require_approval");
      expect((e as AlloyError).status).toBe(400);
    }
  });

  test("text.format, max_output_tokens, reasoning.effort, sampling and streaming", () => {
    const req = validateResponses({
      model: "o4-mini",
      input: "x",
      text: { format: { type: "json_schema", name: "calendar_event", description: "an event", schema: { type: "object", properties: { name: { type: "string" } } }, strict: true } },
      max_output_tokens: 500,
      reasoning: { effort: "low", summary: "auto" },
      temperature: 0.5,
      top_p: 0.8,
      user: "u",
      prompt_cache_key: "pk",
      store: true,
      metadata: { a: "b" },
      stream: true,
    });
    const { chat } = toChatRequest(req, []);
    expect(chat).toEqual({
      model: "o4-mini",
      messages: [{ role: "user", content: "x" }],
      response_format: { type: "json_schema", json_schema: { name: "calendar_event", description: "an event", schema: { type: "object", properties: { name: { type: "string" } } }, strict: true } },
      max_completion_tokens: 500,
      reasoning_effort: "low",
      temperature: 0.5,
      top_p: 0.8,
      user: "u",
      prompt_cache_key: "pk",
      stream: true,
      stream_options: { include_usage: true },
    } as never);
    expect(toChatRequest(validateResponses({ model: "m", input: "x", text: { format: { type: "json_object" } } }), []).chat.response_format).toEqual({ type: "json_object" });
    const plain = toChatRequest(validateResponses({ model: "m", input: "x", stream: false, text: { format: { type: "text" } } }), []).chat;
    expect(plain.stream).toBeUndefined();
    expect(plain.stream_options).toBeUndefined();
    expect(plain.response_format).toBeUndefined();
  });

  test("a request with nothing to say is a 400 on input", () => {
    expect(() => toChatRequest(validateResponses({ model: "m", instructions: "sys", input: [] }), [])).toThrow(/at least one message/);
    expect(() => toChatRequest(validateResponses({ model: "m", input: [{ type: "reasoning", summary: [] }] }), [])).toThrow(AlloyError);
  });
});
