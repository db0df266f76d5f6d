// Schema-valid but odd requests (any mix of roles, parts, tool calls and arguments) through the pure request
// translators, and odd upstream event sequences through the stream translators: each either translates or throws an
// AlloyError — never a TypeError, which would reach the client as a 500.
import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import { validateChatRequest } from "../../src/openai/validate.ts";
import { toAnthropicRequest } from "../../src/providers/anthropic/request.ts";
import { toConverseRequest } from "../../src/providers/bedrock/request.ts";
import { sseFrames } from "../../src/providers/sse.ts";
import { parseEvent } from "../../src/providers/anthropic/events.ts";
import * as anthropicStream from "../../src/providers/anthropic/stream.ts";
import * as bedrockStream from "../../src/providers/bedrock/stream.ts";

/** mulberry32: a small seeded PRNG, so a failure can be replayed with FUZZ_SEED. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const r = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const TEXTS = ["", " ", "hi", "\n\n", "constructor", "__proto__", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "a".repeat(50)];
const ARGS = ["", "{}", '{"a":1}', "[]", "null", "42", '"str"', "{not json", '{"__proto__":{"x":1}}', '{"constructor":1}'];
const URLS = [
  "data:image/png;base64,iVBORw0KGgo=",
  "data:image/constructor;base64,AAAA",
  "data:image/jpeg;base64,!!!",
  "data:text/plain;base64,aGk=",
  "https://example.com/cat.png",
  "ftp://x",
  "",
];

function part() {
  return pick([
    () => ({ type: "text", text: pick(TEXTS) }),
    () => ({ type: "image_url", image_url: { url: pick(URLS) } }),
    () => ({ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }),
    () => ({ type: "file", file: { file_data: pick(URLS), filename: "f" } }),
  ])();
}

function content(allowNull: boolean) {
  const k = r();
  if (allowNull && k < 0.15) return null;
  if (k < 0.5) return pick(TEXTS);
  return Array.from({ length: Math.floor(r() * 3) }, part);
}

function message(): Record<string, unknown> {
  const role = pick(["system", "developer", "user", "assistant", "tool", "function"]);
  switch (role) {
    case "assistant": {
      const calls = Array.from({ length: Math.floor(r() * 3) }, (_, i) => ({
        id: pick(["call_1", "call_2", `call_${i}`, ""]),
        type: "function",
        function: { name: pick(["get", "constructor", "x-y"]), arguments: pick(ARGS) },
      }));
      return { role, content: content(true), ...(calls.length ? { tool_calls: calls } : {}) };
    }
    case "tool":
      return { role, content: pick(TEXTS), tool_call_id: pick(["call_1", "call_2", "nope"]) };
    case "function":
      return { role, content: pick(TEXTS), name: "f" };
    case "user":
      return { role, content: content(false) };
    default:
      return { role, content: pick(TEXTS) };
  }
}

function request(): unknown {
  const tools = r() < 0.5 ? Array.from({ length: 1 + Math.floor(r() * 2) }, (_, i) => ({ type: "function", function: { name: `t${i}`, parameters: { type: "object" } } })) : undefined;
  return {
    model: "m",
    messages: Array.from({ length: 1 + Math.floor(r() * 6) }, message),
    ...(tools ? { tools } : {}),
    ...(r() < 0.3 ? { tool_choice: pick(["auto", "none", "required", { type: "function", function: { name: "t0" } }]) } : {}),
    ...(r() < 0.2 ? { response_format: pick([{ type: "json_object" }, { type: "json_schema", json_schema: { name: "out", schema: { type: "object" } } }]) } : {}),
    ...(r() < 0.3 ? { stop: pick(["\n", ["a", " "], "END"]) } : {}),
    ...(r() < 0.3 ? { temperature: r() * 2, top_p: r() } : {}),
    ...(r() < 0.2 ? { parallel_tool_calls: false, user: "u" } : {}),
    ...(r() < 0.1 ? { n: 2 } : {}),
  };
}

describe(`request translators on 3000 odd but valid requests (FUZZ_SEED=${SEED})`, () => {
  test("Anthropic and Bedrock translation either succeed or refuse with an AlloyError", () => {
    const counts = { anthropicOk: 0, bedrockOk: 0, refused: 0 };
    for (let i = 0; i < 3000; i++) {
      let req;
      try {
        req = validateChatRequest(request());
      } catch (e) {
        expect(e).toBeInstanceOf(AlloyError);
        continue;
      }
      for (const [name, translate] of [
        ["anthropic", () => toAnthropicRequest(req, { model: "claude", defaultMaxTokens: 1024 })],
        ["bedrock", () => toConverseRequest(req, "anthropic.claude")],
      ] as const) {
        try {
          const out = translate();
          expect(JSON.stringify(out)).toBeString();
          if (name === "anthropic") counts.anthropicOk++;
          else counts.bedrockOk++;
        } catch (e) {
          if (!(e instanceof AlloyError)) throw new Error(`${name} threw ${e} for ${JSON.stringify(req)}`);
          expect(e.status).toBeLessThan(500);
          counts.refused++;
        }
      }
    }
    // the generator must exercise both outcomes, or it tests nothing
    expect(counts.anthropicOk).toBeGreaterThan(100);
    expect(counts.bedrockOk).toBeGreaterThan(100);
    expect(counts.refused).toBeGreaterThan(100);
  });
});


/** Upstream streams are untrusted too: events in any order, blocks that were never started, odd values. */
function anthropicEvents(): Array<Record<string, unknown>> {
  const idx = () => Math.floor(r() * 3);
  const gen = [
    () => ({ type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: "c", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } }),
    () => ({ type: "content_block_start", index: idx(), content_block: pick([{ type: "text", text: "" }, { type: "tool_use", id: "toolu_1", name: "t0", input: {} }, { type: "thinking", thinking: "" }, { type: "mystery" }]) }),
    () => ({ type: "content_block_delta", index: idx(), delta: pick([{ type: "text_delta", text: pick(TEXTS) }, { type: "input_json_delta", partial_json: pick(ARGS) }, { type: "thinking_delta", thinking: "hm" }, { type: "new_delta" }]) }),
    () => ({ type: "content_block_stop", index: idx() }),
    () => ({ type: "message_delta", delta: { stop_reason: pick(["end_turn", "tool_use", "max_tokens", "constructor", null]), stop_sequence: null }, usage: { output_tokens: 7 } }),
    () => ({ type: "message_stop" }),
    () => ({ type: "ping" }),
    () => ({ type: "error", error: { type: pick(["overloaded_error", "api_error", "constructor"]), message: "boom" } }),
  ];
  return Array.from({ length: Math.floor(r() * 12) }, () => pick(gen)());
}

function bedrockEvents(): Array<Record<string, unknown>> {
  const idx = () => Math.floor(r() * 3);
  const gen = [
    () => ({ messageStart: { role: "assistant" } }),
    () => ({ contentBlockStart: { contentBlockIndex: idx(), start: { toolUse: { toolUseId: "tu_1", name: "t0" } } } }),
    () => ({ contentBlockDelta: { contentBlockIndex: idx(), delta: pick([{ text: pick(TEXTS) }, { toolUse: { input: pick(ARGS) } }, { reasoningContent: { text: "hm" } }, {}]) } }),
    () => ({ contentBlockStop: { contentBlockIndex: idx() } }),
    () => ({ messageStop: { stopReason: pick(["end_turn", "tool_use", "max_tokens", "constructor", "guardrail_intervened"]) } }),
    () => ({ metadata: { usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 }, metrics: { latencyMs: 1 } } }),
    () => ({ throttlingException: { message: "slow down" } }),
    () => ({ somethingNew: {} }),
  ];
  return Array.from({ length: Math.floor(r() * 12) }, () => pick(gen)());
}

describe(`stream translators on 3000 odd upstream event sequences (FUZZ_SEED=${SEED})`, () => {
  const body = (text: string) => new Response(text).body!;

  test("Anthropic: chunks or an AlloyError, never anything else", async () => {
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const sse = anthropicEvents().map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
      const s = anthropicStream.initStream({ model: "c", created: 1, id: "chatcmpl-x" });
      try {
        for await (const f of sseFrames(body(sse))) anthropicStream.step(s, parseEvent(f));
        anthropicStream.finish(s);
      } catch (e) {
        if (!(e instanceof AlloyError)) throw new Error(`anthropic stream threw ${e} for ${sse}`);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
    expect(errors).toBeLessThan(3000);
  });

  test("Bedrock: chunks or an AlloyError, never anything else", () => {
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const events = bedrockEvents();
      const s = bedrockStream.newStreamState({ provider: "b", id: "chatcmpl-x", model: "m", created: 1 });
      try {
        for (const ev of events) bedrockStream.step(s, ev as never);
        bedrockStream.finish(s);
      } catch (e) {
        if (!(e instanceof AlloyError)) throw new Error(`bedrock stream threw ${e} for ${JSON.stringify(events)}`);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
    expect(errors).toBeLessThan(3000);
  });
});
