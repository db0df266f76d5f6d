// The stream scan must agree with a full parse on everything the relay reads, and hand anything it cannot vouch for
// to the parser.
import { describe, expect, test } from "bun:test";
import { scanChunk } from "../../src/providers/openai/scan.ts";

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
