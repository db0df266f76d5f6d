// The Anthropic Messages ingress, decode side: validateMessages (what is accepted, which param a 400 names) and
// toChatRequest (translation.md "Anthropic Messages in"). Request shapes follow Anthropic's public docs:
//   https://docs.claude.com/en/api/messages                                   (request fields, content blocks)
//   https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use (tools, tool_choice, tool_result)
//   https://docs.claude.com/en/docs/build-with-claude/vision                  (image sources)
//   https://docs.claude.com/en/docs/build-with-claude/pdf-support             (document blocks)
//   https://docs.claude.com/en/docs/build-with-claude/extended-thinking       (thinking, budget_tokens ≥ 1024)
import { describe, expect, test } from "bun:test";
import { toChatRequest, validateCountTokens, validateMessages } from "../../src/dialects/anthropic/decode.ts";
import { AlloyError } from "../../src/errors.ts";

const base = { model: "claude-sonnet-4-5", max_tokens: 1024 };
const user = (content: unknown) => ({ ...base, messages: [{ role: "user", content }] });

function rejects(body: unknown, param: string | null, message?: RegExp): AlloyError {
  try {
    validateMessages(body);
  } catch (e) {
    expect(e).toBeInstanceOf(AlloyError);
    const err = e as AlloyError;
    expect(err.kind).toBe("bad_request");
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    if (message) expect(err.message).toMatch(message);
    return err;
  }
  throw new Error("expected a 400");
}

function translateThrows(body: unknown, param: string, message: RegExp, o: Parameters<typeof toChatRequest>[1] = {}): void {
  const req = validateMessages(body);
  try {
    toChatRequest(req, o);
  } catch (e) {
    expect(e).toBeInstanceOf(AlloyError);
    expect((e as AlloyError).status).toBe(400);
    expect((e as AlloyError).param).toBe(param);
    expect((e as AlloyError).message).toMatch(message);
    return;
  }
  throw new Error("expected a 400");
}

const weatherTool = {
  name: "get_weather",
  description: "Get the current weather in a given location",
  input_schema: {
    type: "object",
    properties: { location: { type: "string", description: "The city and state, e.g. San Francisco, CA" } },
    required: ["location"],
  },
};

describe("validateMessages accepts what the Messages API accepts", () => {
  test("the docs' minimal request, and unknown top-level and block fields (objects stay open)", () => {
    const body = { ...user("Hello, world"), future_field: { x: 1 } };
    expect(validateMessages(body)).toBe(body as never);
    const blocks = user([{ type: "text", text: "Hi", cache_control: { type: "ephemeral", ttl: "1h" }, brand_new: true }]);
    expect(validateMessages(blocks)).toBe(blocks as never);
  });

  test("every block type: text, image (base64/url/file), document (base64/text/content/url), tool_use/tool_result, thinking, redacted_thinking, server tool blocks, future blocks", () => {
    const body = {
      ...base,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
            { type: "image", source: { type: "url", url: "https://upload.wikimedia.org/a.jpg" } },
            { type: "image", source: { type: "file", file_id: "file_011CNha8iCJcU1wXNR6q4V8w" } },
            { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0x" }, title: "Paper", citations: { enabled: true } },
            { type: "document", source: { type: "text", media_type: "text/plain", data: "The grass is green." } },
            { type: "document", source: { type: "content", content: [{ type: "text", text: "chunk 1" }] } },
            { type: "document", source: { type: "url", url: "https://assets.anthropic.com/m/1cd9d098ac3e6467/original/Claude-3-Model-Card-October-Addendum.pdf" } },
            { type: "search_result", source: "https://example.com", title: "T", content: [{ type: "text", text: "r" }] },
            { type: "text", text: "What is in these?" },
          ],
        },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Let me analyze this step by step...", signature: "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve" },
            { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4a" },
            { type: "server_tool_use", id: "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE", name: "web_search", input: { query: "claude shannon birth date" } },
            { type: "web_search_tool_result", tool_use_id: "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE", content: [] },
            { type: "text", text: "Let me check the weather." },
            { type: "tool_use", id: "toolu_01A09q90qw90lq917835lq9", name: "get_weather", input: { location: "San Francisco, CA" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_01A09q90qw90lq917835lq9", content: "15 degrees" },
            { type: "tool_result", tool_use_id: "toolu_x", content: [{ type: "text", text: "ok" }, { type: "tool_reference", tool_name: "Foo" }], is_error: false },
            { type: "container_upload", file_id: "file_1" },
          ],
        },
      ],
    };
    expect(validateMessages(body)).toBe(body as never);
  });

  test("system as string or text blocks; sampling, stop_sequences, metadata, stream, service_tier, thinking variants, output_config, context_management", () => {
    for (const extra of [
      { system: "You are a pirate." },
      { system: [{ type: "text", text: "a", cache_control: { type: "ephemeral" } }] },
      { temperature: 1, top_p: 0.9, top_k: 40, stop_sequences: ["\n\nHuman:"], stream: true, service_tier: "auto" },
      { metadata: { user_id: "13803d75-b4b5-4c3e-b2a2-6f21399b021b" } },
      { thinking: { type: "enabled", budget_tokens: 10000 } },
      { thinking: { type: "adaptive" } },
      { thinking: { type: "disabled" } },
      { output_config: { effort: "medium", format: { type: "json_schema", schema: { type: "object" } } } },
      { context_management: { edits: [{ type: "clear_tool_uses_20250919" }] } },
    ]) {
      const body = { ...user("x"), ...extra };
      expect(validateMessages(body)).toBe(body as never);
    }
  });

  test("tools: custom (with and without type: custom), server tools by type; every tool_choice", () => {
    const body = {
      ...user("x"),
      tools: [
        weatherTool,
        { ...weatherTool, name: "w2", type: "custom", strict: true },
        { type: "web_search_20250305", name: "web_search", max_uses: 5 },
        { type: "bash_20250124", name: "bash" },
        { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
      ],
    };
    expect(validateMessages(body)).toBe(body as never);
    for (const tool_choice of [{ type: "auto" }, { type: "any", disable_parallel_tool_use: true }, { type: "tool", name: "get_weather" }, { type: "none" }]) {
      const b = { ...user("x"), tools: [weatherTool], tool_choice };
      expect(validateMessages(b)).toBe(b as never);
    }
  });

  test("count_tokens requests need no max_tokens", () => {
    const body = { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "Hello" }] };
    expect(validateCountTokens(body)).toBe(body as never);
    expect(() => validateMessages(body)).toThrow(AlloyError);
  });
});

describe("validateMessages rejects malformed requests with the param named", () => {
  test("missing model, max_tokens, messages: 'Field required'", () => {
    rejects({ max_tokens: 1, messages: [{ role: "user", content: "x" }] }, "model", /^model: Field required$/);
    rejects({ model: "m", messages: [{ role: "user", content: "x" }] }, "max_tokens", /^max_tokens: Field required$/);
    rejects({ model: "m", max_tokens: 1 }, "messages", /Field required/);
  });

  test("not an object; wrong scalar types and ranges", () => {
    rejects([1], null, /JSON object/);
    rejects({ ...user("x"), max_tokens: 0 }, "max_tokens");
    rejects({ ...user("x"), max_tokens: "10" }, "max_tokens");
    rejects({ ...user("x"), model: "" }, "model");
    rejects({ ...user("x"), temperature: 1.5 }, "temperature");
    rejects({ ...user("x"), stop_sequences: "END" }, "stop_sequences");
    rejects({ ...user("x"), stream: "yes" }, "stream");
    rejects({ ...base, messages: [] }, "messages", /greater or equal to 1/);
  });

  test("messages: role, content, and the exact field inside a block", () => {
    rejects({ ...base, messages: [{ role: "tool", content: "x" }] }, "messages.0.role", /"user", "assistant" or "system"/);
    rejects({ ...base, messages: [{ role: "user" }] }, "messages.0.content", /Field required/);
    rejects(user(42), "messages.0.content", /string or a list/);
    rejects(user([{ text: "no type" }]), "messages.0.content.0.type");
    rejects(user([{ type: "text" }]), "messages.0.content.0.text", /Field required/);
    rejects(user([{ type: "text", text: "ok" }, { type: "image", source: { type: "base64", data: "x" } }]), "messages.0.content.1.source.media_type", /Field required/);
    rejects(user([{ type: "image", source: { type: "ftp", url: "x" } }]), "messages.0.content.0.source.type", /one of "base64", "url", "file"/);
    rejects(user([{ type: "tool_result", content: "x" }]), "messages.0.content.0.tool_use_id", /Field required/);
    rejects({ ...base, messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t", name: "n", input: "[]" }] }] }, "messages.0.content.0.input");
    rejects({ ...base, messages: [{ role: "assistant", content: [{ type: "thinking", thinking: "x" }] }] }, "messages.0.content.0.signature");
  });

  test("system blocks, tools, tool_choice, thinking", () => {
    rejects({ ...user("x"), system: [{ type: "text" }] }, "system.0.text", /Field required/);
    rejects({ ...user("x"), tools: [{ name: "t" }] }, "tools.0.input_schema", /Field required/);
    rejects({ ...user("x"), tools: [{ name: "t", input_schema: { type: "array" } }] }, "tools.0.input_schema.type");
    rejects({ ...user("x"), tools: [{ type: "web_search_20250305" }] }, "tools.0.name", /Field required/);
    rejects({ ...user("x"), tool_choice: { type: "tool" } }, "tool_choice.name", /Field required/);
    rejects({ ...user("x"), tool_choice: { type: "sometimes" } }, "tool_choice.type", /one of "auto", "any", "tool", "none"/);
    rejects({ ...user("x"), thinking: { type: "enabled", budget_tokens: 512 } }, "thinking.budget_tokens", /1024/);
    rejects({ ...user("x"), thinking: { type: "enabled" } }, "thinking.budget_tokens", /Field required/);
  });
});

describe("toChatRequest", () => {
  test("system (string or blocks joined) → one system message; max_tokens, stop_sequences, temperature, top_p, metadata.user_id; top_k dropped", () => {
    const out = toChatRequest(
      validateMessages({
        ...user("Hello"),
        system: [
          { type: "text", text: "You are Claude.", cache_control: { type: "ephemeral" } },
          { type: "text", text: "Be brief." },
        ],
        stop_sequences: ["END"],
        temperature: 0.5,
        top_p: 0.9,
        top_k: 10,
        metadata: { user_id: "user-42" },
      }),
    );
    expect(out).toEqual({
      model: "claude-sonnet-4-5",
      messages: [
        { role: "system", content: "You are Claude.\n\nBe brief." },
        { role: "user", content: "Hello" },
      ],
      max_completion_tokens: 1024,
      stop: ["END"],
      temperature: 0.5,
      top_p: 0.9,
      user: "user-42",
    });
    expect(toChatRequest(validateMessages({ ...user("x"), system: "Plain." })).messages[0]).toEqual({ role: "system", content: "Plain." });
  });

  test("stream: true asks the upstream for the usage chunk", () => {
    const out = toChatRequest(validateMessages({ ...user("x"), stream: true }));
    expect(out.stream).toBe(true);
    expect(out.stream_options).toEqual({ include_usage: true });
  });

  test("more stop sequences than Chat Completions takes is a 400 naming stop_sequences", () => {
    translateThrows({ ...user("x"), stop_sequences: ["a", "b", "c", "d", "e"] }, "stop_sequences", /at most 4/);
  });

  test("user blocks: text, images (data URL, https URL), text documents with title, content documents, search results; cache_control dropped", () => {
    const out = toChatRequest(
      validateMessages(
        user([
          { type: "text", text: "Describe", cache_control: { type: "ephemeral" } },
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          { type: "image", source: { type: "url", url: "https://upload.wikimedia.org/ant.jpg" } },
          { type: "document", source: { type: "text", media_type: "text/plain", data: "The grass is green." }, title: "Facts" },
          { type: "document", source: { type: "content", content: [{ type: "text", text: "one" }, { type: "text", text: "two" }] } },
          { type: "search_result", source: "https://ex.com/x", title: "Result", content: [{ type: "text", text: "body" }] },
        ]),
      ),
    );
    expect(out.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "Describe" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "image_url", image_url: { url: "https://upload.wikimedia.org/ant.jpg" } },
          { type: "text", text: "Facts\nThe grass is green." },
          { type: "text", text: "one\ntwo" },
          { type: "text", text: "Result (https://ex.com/x)\nbody" },
        ],
      },
    ]);
    expect(JSON.stringify(out)).not.toContain("cache_control");
  });

  test("a PDF document is a 400 naming the block's source unless the target takes files; then a file part", () => {
    const pdf = user([{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0x" }, title: "paper.pdf" }]);
    translateThrows(pdf, "messages.0.content.0.source", /PDF documents are not supported by this model's target/);
    expect(toChatRequest(validateMessages(pdf), { files: true }).messages[0]).toEqual({
      role: "user",
      content: [{ type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0x", filename: "paper.pdf" } }],
    });
    translateThrows(user([{ type: "document", source: { type: "url", url: "https://x/a.pdf" } }]), "messages.0.content.0.source", /documents by URL/);
    translateThrows(user([{ type: "image", source: { type: "file", file_id: "file_1" } }]), "messages.0.content.0.source", /file_id/);
  });

  test("assistant tool_use → tool_calls (arguments = JSON.stringify(input)); tool_result → one tool message per result, is_error prefixed; the rest of the turn after them", () => {
    const out = toChatRequest(
      validateMessages({
        ...base,
        tools: [weatherTool],
        messages: [
          { role: "user", content: "Weather in SF and NYC?" },
          {
            role: "assistant",
            content: [
              { type: "text", text: "I'll check both." },
              { type: "tool_use", id: "toolu_01A", name: "get_weather", input: { location: "San Francisco, CA" } },
              { type: "tool_use", id: "toolu_01B", name: "get_weather", input: { location: "New York, NY" } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_01A", content: "15 degrees" },
              { type: "tool_result", tool_use_id: "toolu_01B", content: [{ type: "text", text: "ConnectionError:" }, { type: "text", text: "timeout" }], is_error: true },
              { type: "text", text: "Thanks" },
            ],
          },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: "user", content: "Weather in SF and NYC?" },
      {
        role: "assistant",
        content: "I'll check both.",
        tool_calls: [
          { id: "toolu_01A", type: "function", function: { name: "get_weather", arguments: '{"location":"San Francisco, CA"}' } },
          { id: "toolu_01B", type: "function", function: { name: "get_weather", arguments: '{"location":"New York, NY"}' } },
        ],
      },
      { role: "tool", tool_call_id: "toolu_01A", content: "15 degrees" },
      { role: "tool", tool_call_id: "toolu_01B", content: "Error: ConnectionError:\ntimeout" },
      { role: "user", content: "Thanks" },
    ]);
    expect(out.tools).toEqual([{ type: "function", function: { name: "get_weather", description: weatherTool.description, parameters: weatherTool.input_schema } }]);
  });

  test("an image inside a tool_result moves to a user message after the tool messages (tool messages carry text only)", () => {
    const out = toChatRequest(
      validateMessages({
        ...base,
        messages: [
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "screenshot", input: {} }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "here" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "AA==" } }] }] },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: "assistant", content: null, tool_calls: [{ id: "toolu_1", type: "function", function: { name: "screenshot", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "toolu_1", content: "here" },
      { role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AA==" } }] },
    ]);
  });

  test("thinking and redacted_thinking in assistant history are dropped, their text kept; earlier server-tool blocks dropped", () => {
    const out = toChatRequest(
      validateMessages({
        ...base,
        messages: [
          { role: "user", content: "Are there an infinite number of prime numbers such that n mod 4 == 3?" },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "Let me think...", signature: "EuYBCkQYAiJA" },
              { type: "redacted_thinking", data: "EmwKAhgB" },
              { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "primes" } },
              { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] },
              { type: "text", text: "Yes." },
            ],
          },
          { role: "user", content: "Why?" },
        ],
      }),
    );
    expect(out.messages[1]).toEqual({ role: "assistant", content: "Yes." });
    expect(JSON.stringify(out)).not.toContain("Let me think");
  });

  test("tool_choice auto / any / tool / none and disable_parallel_tool_use → parallel_tool_calls: false", () => {
    const choice = (tool_choice: object) => {
      const out = toChatRequest(validateMessages({ ...user("x"), tools: [weatherTool], tool_choice }));
      return [out.tool_choice, out.parallel_tool_calls];
    };
    expect(choice({ type: "auto" })).toEqual(["auto", undefined]);
    expect(choice({ type: "any", disable_parallel_tool_use: true })).toEqual(["required", false]);
    expect(choice({ type: "tool", name: "get_weather" })).toEqual([{ type: "function", function: { name: "get_weather" } }, undefined]);
    expect(choice({ type: "auto", disable_parallel_tool_use: true })).toEqual(["auto", false]);
    expect(choice({ type: "none" })).toEqual(["none", undefined]);
    // Without tools there is nothing to choose: Chat Completions rejects tool_choice alone.
    const none = toChatRequest(validateMessages({ ...user("x"), tool_choice: { type: "auto" } }));
    expect(none.tool_choice).toBeUndefined();
  });

  test("server tools (web_search, bash, text_editor, any non-custom type) are a 400 saying they need an Anthropic target", () => {
    for (const t of [
      { type: "web_search_20250305", name: "web_search" },
      { type: "bash_20250124", name: "bash" },
      { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
      { type: "computer_20250124", name: "computer", display_width_px: 1024, display_height_px: 768 },
    ])
      translateThrows({ ...user("x"), tools: [weatherTool, t] }, "tools.1", new RegExp(`'${t.type}'.*needs an Anthropic target`));
    // type: "custom" is an ordinary tool.
    const out = toChatRequest(validateMessages({ ...user("x"), tools: [{ ...weatherTool, type: "custom", strict: true }] }));
    expect(out.tools).toEqual([{ type: "function", function: { name: "get_weather", description: weatherTool.description, parameters: weatherTool.input_schema, strict: true } }]);
  });

  test("thinking budget → reasoning_effort in three bands, output_config.effort as is, only when the target reasons", () => {
    const effort = (extra: object, reasoning = true) => toChatRequest(validateMessages({ ...user("x"), max_tokens: 64000, ...extra }), { reasoning }).reasoning_effort;
    expect(effort({ thinking: { type: "enabled", budget_tokens: 1024 } })).toBe("low");
    expect(effort({ thinking: { type: "enabled", budget_tokens: 4095 } })).toBe("low");
    expect(effort({ thinking: { type: "enabled", budget_tokens: 4096 } })).toBe("medium");
    expect(effort({ thinking: { type: "enabled", budget_tokens: 16383 } })).toBe("medium");
    expect(effort({ thinking: { type: "enabled", budget_tokens: 16384 } })).toBe("high");
    expect(effort({ thinking: { type: "adaptive" }, output_config: { effort: "low" } })).toBe("low");
    expect(effort({ thinking: { type: "enabled", budget_tokens: 30000 }, output_config: { effort: "medium" } })).toBe("medium");
    expect(effort({ thinking: { type: "adaptive" } })).toBeUndefined();
    expect(effort({ thinking: { type: "disabled" } })).toBeUndefined();
    expect(effort({ thinking: { type: "enabled", budget_tokens: 30000 } }, false)).toBeUndefined();
    expect(effort({ output_config: { effort: "high" } }, false)).toBeUndefined();
  });

  test("output_config.format (and the beta's output_format) json_schema → response_format json_schema", () => {
    const schema = { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false };
    for (const extra of [{ output_config: { format: { type: "json_schema", schema } } }, { output_format: { type: "json_schema", schema } }])
      expect(toChatRequest(validateMessages({ ...user("x"), ...extra })).response_format).toEqual({ type: "json_schema", json_schema: { name: "response", schema, strict: true } });
  });

  test("user blocks no other target can read are a 400 naming the block", () => {
    translateThrows(user([{ type: "container_upload", file_id: "file_1" }]), "messages.0.content.0", /'container_upload' blocks need an Anthropic target/);
  });
});
