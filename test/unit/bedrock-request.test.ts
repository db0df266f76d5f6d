// OpenAI request → Converse request (translation.md, "Request: OpenAI → Bedrock"), checked against the request shapes
// in AWS's Converse docs (the top_song tool example).
import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import type { ChatRequest } from "../../src/openai/schema.ts";
import { imageBlock, toConverseRequest } from "../../src/providers/bedrock/request.ts";

const PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const topSong = {
  type: "function" as const,
  function: {
    name: "top_song",
    description: "Get the most popular song played on a radio station.",
    parameters: { type: "object", properties: { sign: { type: "string" } }, required: ["sign"] },
  },
};

function req(r: Partial<ChatRequest>): ChatRequest {
  return { model: "bedrock/anthropic.claude-3-haiku-20240307-v1:0", messages: [{ role: "user", content: "hi" }], ...r };
}

function thrown(f: () => unknown): AlloyError {
  try {
    f();
  } catch (e) {
    if (e instanceof AlloyError) return e;
    throw e;
  }
  throw new Error("expected an AlloyError");
}

describe("toConverseRequest", () => {
  test("system and developer messages become system blocks in order; the model id is passed as modelId", () => {
    const out = toConverseRequest(
      req({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "What is the most popular song on WZPZ?" },
          { role: "developer", content: [{ type: "text", text: "Answer in English." }] },
        ],
      }),
      "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
    );
    expect(out.modelId).toBe("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0");
    expect(out.system).toEqual([{ text: "Be brief." }, { text: "Answer in English." }]);
    expect(out.messages).toEqual([{ role: "user", content: [{ text: "What is the most popular song on WZPZ?" }] }]);
    expect(out.inferenceConfig).toBeUndefined();
    expect(out.toolConfig).toBeUndefined();
  });

  test("inferenceConfig: max_completion_tokens wins over max_tokens; stop string becomes a list", () => {
    const out = toConverseRequest(req({ max_tokens: 10, max_completion_tokens: 20, temperature: 0.5, top_p: 0.9, stop: "END" }), "m");
    expect(out.inferenceConfig).toEqual({ maxTokens: 20, temperature: 0.5, topP: 0.9, stopSequences: ["END"] });
    expect(toConverseRequest(req({ max_tokens: 7, stop: ["a", "b"] }), "m").inferenceConfig).toEqual({ maxTokens: 7, stopSequences: ["a", "b"] });
  });

  test("tools become toolSpecs with inputSchema.json, as in the docs' top_song example", () => {
    const out = toConverseRequest(req({ tools: [topSong] }), "m");
    expect(out.toolConfig).toEqual({
      tools: [
        {
          toolSpec: {
            name: "top_song",
            description: "Get the most popular song played on a radio station.",
            inputSchema: { json: { type: "object", properties: { sign: { type: "string" } }, required: ["sign"] } },
          },
        },
      ],
    });
  });

  test("tool_choice auto / required / named map to auto / any / tool; none sends no tools", () => {
    const choice = (tool_choice: ChatRequest["tool_choice"]) => toConverseRequest(req({ tools: [topSong], tool_choice }), "m").toolConfig;
    expect(choice("auto")!.toolChoice).toEqual({ auto: {} });
    expect(choice("required")!.toolChoice).toEqual({ any: {} });
    expect(choice({ type: "function", function: { name: "top_song" } })!.toolChoice).toEqual({ tool: { name: "top_song" } });
    expect(choice("none")).toBeUndefined();
  });

  test("a tool without parameters gets an empty object schema", () => {
    const out = toConverseRequest(req({ tools: [{ type: "function", function: { name: "now" } }] }), "m");
    expect(out.toolConfig!.tools![0]!.toolSpec!.inputSchema).toEqual({ json: { type: "object", properties: {} } });
  });

  test("a tool round trip: assistant text + toolUse, then toolResults grouped with the next user text into one turn", () => {
    const out = toConverseRequest(
      req({
        tools: [topSong],
        messages: [
          { role: "user", content: "What is the most popular song on WZPZ and WKRP?" },
          {
            role: "assistant",
            content: "Let me check.",
            tool_calls: [
              { id: "tooluse_a", type: "function", function: { name: "top_song", arguments: '{"sign":"WZPZ"}' } },
              { id: "tooluse_b", type: "function", function: { name: "top_song", arguments: '{"sign":"WKRP"}' } },
            ],
          },
          { role: "tool", tool_call_id: "tooluse_a", content: "Elemental Hotel" },
          { role: "tool", tool_call_id: "tooluse_b", content: [{ type: "text", text: "Never Gonna" }] },
          { role: "user", content: "Thanks!" },
        ],
      }),
      "m",
    );
    expect(out.messages).toEqual([
      { role: "user", content: [{ text: "What is the most popular song on WZPZ and WKRP?" }] },
      {
        role: "assistant",
        content: [
          { text: "Let me check." },
          { toolUse: { toolUseId: "tooluse_a", name: "top_song", input: { sign: "WZPZ" } } },
          { toolUse: { toolUseId: "tooluse_b", name: "top_song", input: { sign: "WKRP" } } },
        ],
      },
      {
        role: "user",
        content: [
          { toolResult: { toolUseId: "tooluse_a", content: [{ text: "Elemental Hotel" }] } },
          { toolResult: { toolUseId: "tooluse_b", content: [{ text: "Never Gonna" }] } },
          { text: "Thanks!" },
        ],
      },
    ]);
  });

  test("consecutive messages of one role merge; empty messages and empty text parts are dropped", () => {
    const out = toConverseRequest(
      req({
        messages: [
          { role: "user", content: "one" },
          { role: "user", content: [{ type: "text", text: "" }, { type: "text", text: "two" }] },
          { role: "assistant", content: "" },
          { role: "user", content: "three" },
          { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "" } }] },
        ],
      }),
      "m",
    );
    expect(out.messages).toEqual([
      { role: "user", content: [{ text: "one" }, { text: "two" }, { text: "three" }] },
      { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "f", input: {} } }] },
    ]);
  });

  test("data-URL images become image blocks with bytes and format", () => {
    const out = toConverseRequest(
      req({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1PX}` } },
            ],
          },
        ],
      }),
      "m",
    );
    const block = out.messages![0]!.content![1]!;
    expect(block.image!.format).toBe("png");
    // Converse's JSON carries blobs as base64 text
    expect(block.image!.source).toEqual({ bytes: PNG_1PX });
    const urlSafe = PNG_1PX.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    expect(imageBlock(`data:image/png;base64,${urlSafe}`, "p").image.source.bytes).toBe(PNG_1PX);
    expect(imageBlock(`data:image/jpg;base64,${PNG_1PX}`, "p").image!.format).toBe("jpeg");
    expect(imageBlock(`data:image/webp;base64,${PNG_1PX}`, "p").image!.format).toBe("webp");
    // an image type named like an Object.prototype member is just an unsupported type
    expect(() => imageBlock(`data:image/constructor;base64,${PNG_1PX}`, "p")).toThrow("Unsupported image type");
  });

  test("http image URLs, unknown image types and bad base64 are clear 400s naming the part", () => {
    const url = (u: string) =>
      thrown(() => toConverseRequest(req({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: u } }] }] }), "m"));
    const e1 = url("https://example.com/cat.png");
    expect(e1.status).toBe(400);
    expect(e1.param).toBe("messages[0].content[0].image_url.url");
    expect(e1.message).toContain("does not fetch image URLs");
    expect(url(`data:image/tiff;base64,${PNG_1PX}`).message).toContain("png, jpeg, gif and webp");
    expect(url("data:image/png;base64,***").message).toContain("not base64");
  });

  test("unusable input is a 400, never a crash: bad tool arguments, audio parts, function messages, nothing to send", () => {
    const badArgs = thrown(() =>
      toConverseRequest(
        req({
          messages: [
            { role: "user", content: "x" },
            { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{oops" } }] },
          ],
        }),
        "m",
      ),
    );
    expect(badArgs.status).toBe(400);
    expect(badArgs.param).toBe("messages[1].tool_calls[0].function.arguments");
    const arrayArgs = thrown(() =>
      toConverseRequest(req({ messages: [{ role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "[1]" } }] }] }), "m"),
    );
    expect(arrayArgs.message).toContain("JSON object");
    const audio = thrown(() => toConverseRequest(req({ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AA==", format: "wav" } }] }] }), "m"));
    expect(audio.param).toBe("messages[0].content[0].type");
    expect(thrown(() => toConverseRequest(req({ messages: [{ role: "function", name: "f", content: "x" }] }), "m")).status).toBe(400);
    const empty = thrown(() => toConverseRequest(req({ messages: [{ role: "system", content: "only a system prompt" }] }), "m"));
    expect(empty.status).toBe(400);
    expect(empty.param).toBe("messages");
  });
});
