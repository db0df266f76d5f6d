// The access observer (levels, fields, debug-only text) and the stream tap that assembles completion text.
import { describe, expect, test } from "bun:test";
import type { AccessRecord } from "../../src/observability/access.ts";
import { createLogger } from "../../src/observability/log.ts";
import { createRequestObserver } from "../../src/observability/observer.ts";
import { tapStream } from "../../src/observability/text.ts";
import type { ChatChunk } from "../../src/openai/schema.ts";
import type { Piece } from "../../src/providers/provider.ts";

function setup(level: string) {
  const lines: string[] = [];
  const log = createLogger({ level, json: true, write: (l) => lines.push(l) });
  return { observer: createRequestObserver(log), parsed: () => lines.map((l) => JSON.parse(l)) };
}

const rec = (over: Partial<AccessRecord>): AccessRecord => ({
  requestId: "r1",
  method: "POST",
  route: "/v1/chat/completions",
  status: 200,
  attempts: 1,
  retries: 0,
  failovers: 0,
  stream: false,
  durationMs: 12.3456,
  ...over,
});

describe("access observer", () => {
  test("levels: 5xx warn, 4xx and 499 info, probes and scrapes debug", () => {
    const { observer, parsed } = setup("debug");
    observer.end(rec({ requestId: "a", status: 502, error: "server", errorMessage: "boom" }));
    observer.end(rec({ requestId: "b", status: 429 }));
    observer.end(rec({ requestId: "c", status: 499, error: "cancelled" }));
    observer.end(rec({ requestId: "d", route: "/health", method: "GET" }));
    observer.end(rec({ requestId: "e", route: "/metrics", method: "GET" }));
    observer.end(rec({ requestId: "f", route: "/ready", method: "GET", status: 503 }));
    expect(parsed().map((l) => [l.requestId, l.level])).toEqual([
      ["a", "warn"],
      ["b", "info"],
      ["c", "info"],
      ["d", "debug"],
      ["e", "debug"],
      ["f", "warn"],
    ]);
  });

  test("at info, probe lines are not written at all", () => {
    const { observer, parsed } = setup("info");
    observer.end(rec({ route: "/health", method: "GET" }));
    expect(parsed()).toEqual([]);
  });

  test("fields: durations rounded to 0.01 ms, usage flattened, error only on failures", () => {
    const { observer, parsed } = setup("info");
    observer.end(rec({ ttfbMs: 3.14159, usage: { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 }, finishReason: "stop" }));
    const l = parsed()[0];
    expect(l).toMatchObject({ msg: "request", durationMs: 12.35, ttfbMs: 3.14, promptTokens: 4, completionTokens: 6, totalTokens: 10, finishReason: "stop" });
    expect("error" in l).toBe(false);
    expect("usage" in l).toBe(false);
  });

  test("the text hook exists only at debug, so nothing gathers prompt text otherwise", () => {
    expect(setup("info").observer.text).toBeUndefined();
    const d = setup("debug");
    d.observer.text!("r9", "prompt", [{ role: "user", content: "hi" }]);
    expect(d.parsed()[0]).toMatchObject({ level: "debug", msg: "prompt", requestId: "r9", messages: [{ role: "user", content: "hi" }] });
  });
});

function chunk(delta: ChatChunk["choices"][0]["delta"]): ChatChunk {
  return { id: "c", object: "chat.completion.chunk", created: 0, model: "m", choices: [{ index: 0, delta, finish_reason: null }] };
}

const piece = (delta: ChatChunk["choices"][0]["delta"]): Piece => ({ chunk: chunk(delta) });

async function* gen(chunks: Piece[]) {
  yield* chunks;
}

describe("tapStream", () => {
  test("assembles content and tool calls, reports once at the end, passes chunks through unchanged", async () => {
    const got: unknown[] = [];
    const rest = [
      piece({ content: "Hel" }),
      piece({ content: "lo" }),
      piece({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: '{"a"' } }] }),
      piece({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }),
    ];
    const it = tapStream(piece({ role: "assistant", content: "" }), gen(rest), (m) => got.push(m));
    const seen: Piece[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) seen.push(r.value);
    await it.return!();
    expect(seen).toEqual(rest);
    expect(got).toEqual([{ content: "Hello", tool_calls: [{ id: "call_1", name: "f", arguments: '{"a":1}' }] }]);
  });

  test("a consumer that stops early still gets the text so far", async () => {
    const got: unknown[] = [];
    const it = tapStream(piece({ content: "a" }), gen([piece({ content: "b" }), piece({ content: "c" })]), (m) => got.push(m));
    await it.next();
    await it.return!();
    expect(got).toEqual([{ content: "ab" }]);
  });

  test("an upstream error mid-stream reports the text so far and rethrows", async () => {
    const got: unknown[] = [];
    async function* broken() {
      yield piece({ content: "x" });
      throw new Error("gone");
    }
    const it = tapStream(piece({ content: "" }), broken(), (m) => got.push(m));
    await it.next();
    await expect(it.next()).rejects.toThrow("gone");
    expect(got).toEqual([{ content: "x" }]);
  });
});
