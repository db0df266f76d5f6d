// The stream scan must agree with a full parse on everything the relay reads, and hand anything it cannot vouch for
// to the parser.
import { describe, expect, test } from "bun:test";
import { scanChat, scanChunk, scanEmbeddings } from "../../src/providers/openai/scan.ts";

const chunk = (choice: object, extra: object = {}) => JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [choice], ...extra });

describe("scanChunk", () => {
  test("content and tool deltas are relayed unparsed, without a finish", () => {
    expect(scanChunk(chunk({ index: 0, delta: { content: "hi" }, finish_reason: null }))).toEqual({ kind: "chunk" });
    expect(scanChunk(chunk({ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }, finish_reason: null }))).toEqual({ kind: "chunk" });
  });

  test("the finishing chunk gives its reason", () => {
    for (const r of ["stop", "length", "tool_calls", "content_filter"])
      expect(scanChunk(chunk({ index: 0, delta: {}, finish_reason: r }))).toEqual({ kind: "chunk", finish: r });
  });

  test("a finish_reason quoted inside content is not a finish", () => {
    const data = chunk({ index: 0, delta: { content: 'say "finish_reason":"stop" please' }, finish_reason: null });
    expect(data).toContain('\\"finish_reason\\":\\"stop\\"');
    expect(scanChunk(data)).toEqual({ kind: "chunk" });
  });

  test("choiceless chunks without usage are skipped; usage, errors and odd shapes are parsed", () => {
    expect(scanChunk(JSON.stringify({ id: "", choices: [], prompt_filter_results: [{ prompt_index: 0 }] }))).toEqual({ kind: "skip" });
    expect(scanChunk(JSON.stringify({ id: "c", choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } })).kind).toBe("parse");
    expect(scanChunk(JSON.stringify({ error: { message: "boom" } })).kind).toBe("parse");
    expect(scanChunk(JSON.stringify({ id: "c", choices: [7] })).kind).toBe("parse");
    expect(scanChunk(JSON.stringify({ id: "c" })).kind).toBe("parse");
    // Python's json.dumps puts spaces after separators: another serialiser, no guesses.
    expect(scanChunk('{"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}').kind).toBe("parse");
    expect(scanChunk(" {}").kind).toBe("parse");
  });
});

describe("scanEmbeddings", () => {
  const list = (embedding: unknown, extra: object = {}) =>
    JSON.stringify({ object: "list", data: [{ object: "embedding", index: 0, embedding }], model: "text-embedding-3-small", usage: { prompt_tokens: 5, total_tokens: 5 }, ...extra });

  test("finds usage and model in float and base64 lists without parsing the vectors", () => {
    for (const v of [[0.1, -0.2, 3e-5], "AACAPwAAAEA="]) {
      const text = list(v);
      const found = scanEmbeddings(text)!;
      expect(found.usage).toEqual(JSON.parse(text).usage);
      expect(found.model).toBe("text-embedding-3-small");
    }
  });

  test("anything that does not look like OpenAI's list is left to the parser", () => {
    expect(scanEmbeddings(JSON.stringify({ data: [] }))).toBeUndefined();
    expect(scanEmbeddings(JSON.stringify({ object: "list", data: [], usage: { prompt_tokens: "5" } }))).toBeUndefined();
    expect(scanEmbeddings(JSON.stringify({ object: "list", data: [1] }, null, 2))).toBeUndefined();
    expect(scanEmbeddings('{"object":"list","data":[],"usage":{broken}')).toBeUndefined();
  });
});

describe("scanChat", () => {
  const answer = (content: string, extra: object = {}) =>
    JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1,
      model: "gpt-4o-2024-08-06",
      choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: "length" }],
      usage: { prompt_tokens: 12, completion_tokens: 900, total_tokens: 912, prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 } },
      ...extra,
    });

  test("agrees with a full parse on usage, finish reason and model, nested details included", () => {
    const text = answer('long "quoted" text with {braces} and "usage":{"prompt_tokens":99} inside it');
    const parsed = JSON.parse(text);
    expect(scanChat(text)).toEqual({ usage: parsed.usage, finish: "length", model: "gpt-4o-2024-08-06" });
  });

  test("an answer that is not compact Chat Completions JSON is left to the parser", () => {
    expect(scanChat(JSON.stringify({ choices: [] }))).toBeUndefined();
    expect(scanChat(JSON.stringify(JSON.parse(answer("x")), null, 2))).toBeUndefined();
    const cut = answer("x");
    expect(scanChat(cut.slice(0, cut.indexOf('"usage":{') + 30))).toBeUndefined(); // usage never closes
  });
});
