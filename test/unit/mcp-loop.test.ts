// The tool loop with plain fakes for the model and the tools: no gateway, no sockets.
import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import { ToolCallAccumulator } from "../../src/openai/tool-calls.ts";
import { addUsage, runToolLoop, streamToolLoop, type LoopFns } from "../../src/mcp/loop.ts";
import type { McpToolInfo } from "../../src/mcp/servers.ts";
import type { McpPlan } from "../../src/mcp/tools.ts";
import type { ChatChunk, ChatRequest, ChatResponse, ToolCall } from "../../src/openai/schema.ts";

const info = (name: string): McpToolInfo => ({ name, server: "s", tool: name, inputSchema: {} });
const plan = (extra: Partial<ChatRequest> = {}): McpPlan => ({
  req: { model: "m", messages: [{ role: "user", content: "go" }], tools: [], ...extra } as ChatRequest,
  auto: new Map([["s__a", info("s__a")], ["s__b", info("s__b")]]),
  approval: new Set(),
});
const call = (id: string, name: string, args = "{}"): ToolCall => ({ id, type: "function", function: { name, arguments: args } });
const usage = (p: number, c: number) => ({ prompt_tokens: p, completion_tokens: c, total_tokens: p + c });

function response(content: string | null, tool_calls?: ToolCall[], u = usage(10, 2)): ChatResponse {
  return {
    id: `r-${Math.random()}`,
    object: "chat.completion",
    created: 1,
    model: "m",
    choices: [{ index: 0, message: { role: "assistant", content, ...(tool_calls ? { tool_calls } : {}) }, finish_reason: tool_calls ? "tool_calls" : "stop" }],
    usage: u,
  };
}

function fakes(answers: ChatResponse[], streams: ChatChunk[][] = [], maxIterations = 5) {
  const requests: ChatRequest[] = [];
  const ran: string[] = [];
  const returned: number[] = [];
  const fns: LoopFns = {
    maxIterations,
    async complete(req) {
      requests.push(structuredClone(req));
      return answers.shift()!;
    },
    async stream(req) {
      requests.push(structuredClone(req));
      const chunks = streams.shift()!;
      const n = requests.length;
      const it = chunks.slice(1)[Symbol.iterator]();
      return {
        first: chunks[0]!,
        rest: {
          async next() {
            const r = it.next();
            return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
          },
          async return() {
            returned.push(n);
            return { done: true, value: undefined };
          },
        },
      };
    },
    async runTool(c) {
      ran.push(c.function.name);
      return `result of ${c.function.name}(${c.function.arguments})`;
    },
  };
  return { fns, requests, ran, returned };
}

const chunk = (id: string, delta: Record<string, unknown>, finish: string | null = null): ChatChunk =>
  ({ id, object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] }) as ChatChunk;
const usageChunk = (id: string, p: number, c: number): ChatChunk => ({ id, object: "chat.completion.chunk", created: 1, model: "m", choices: [], usage: usage(p, c) });

/** A streamed round asking for tools, with text first and arguments split over deltas. */
function toolRound(id: string, calls: Array<[string, string, string]>, text?: string): ChatChunk[] {
  const out = [chunk(id, { role: "assistant", content: "" })];
  if (text) out.push(chunk(id, { content: text }));
  calls.forEach(([cid, name, args], index) => {
    out.push(chunk(id, { tool_calls: [{ index, id: cid, type: "function", function: { name, arguments: "" } }] }));
    out.push(chunk(id, { tool_calls: [{ index, function: { arguments: args.slice(0, 2) } }] }));
    out.push(chunk(id, { tool_calls: [{ index, function: { arguments: args.slice(2) } }] }));
  });
  out.push(chunk(id, {}, "tool_calls"), usageChunk(id, 30, 5));
  return out;
}
function textRound(id: string, words: string[]): ChatChunk[] {
  return [chunk(id, { role: "assistant", content: "" }), ...words.map((w) => chunk(id, { content: w })), chunk(id, {}, "stop"), usageChunk(id, 12, words.length)];
}

async function drain(s: { first: ChatChunk; rest: AsyncIterator<ChatChunk> }): Promise<ChatChunk[]> {
  const out = [s.first];
  for (let r = await s.rest.next(); !r.done; r = await s.rest.next()) out.push(r.value);
  return out;
}

describe("runToolLoop (non-streamed)", () => {
  test("runs the MCP calls, appends assistant turn and results, answers with the final message and summed usage", async () => {
    const { fns, requests, ran } = fakes([response(null, [call("c1", "s__a", '{"x":1}'), call("c2", "s__b")]), response("done", undefined, usage(20, 3))]);
    const res = await runToolLoop(plan(), fns);
    expect(res.choices[0]!.message.content).toBe("done");
    expect(res.usage).toEqual(usage(30, 5));
    expect(ran).toEqual(["s__a", "s__b"]);
    expect(requests[1]!.messages.slice(1)).toEqual([
      { role: "assistant", content: null, tool_calls: [call("c1", "s__a", '{"x":1}'), call("c2", "s__b")] },
      { role: "tool", tool_call_id: "c1", content: 'result of s__a({"x":1})' },
      { role: "tool", tool_call_id: "c2", content: "result of s__b({})" },
    ]);
    // The caller's message list is not mutated.
    expect(plan().req.messages).toHaveLength(1);
  });

  test("tool calls of one round run in parallel", async () => {
    const { fns } = fakes([response(null, [call("c1", "s__a"), call("c2", "s__b")]), response("ok")]);
    let release!: () => void;
    const bStarted = new Promise<void>((r) => (release = r));
    fns.runTool = async (c) => {
      if (c.function.name === "s__b") release();
      else await bStarted; // would deadlock if the calls ran one after the other
      return "r";
    };
    expect((await runToolLoop(plan(), fns)).choices[0]!.message.content).toBe("ok");
  });

  test("a round with a client tool call returns only the client's calls and runs nothing", async () => {
    const { fns, ran } = fakes([response("thinking", [call("c1", "s__a"), call("c2", "weather")])]);
    const res = await runToolLoop(plan(), fns);
    expect(ran).toEqual([]);
    expect(res.choices[0]!.finish_reason).toBe("tool_calls");
    expect(res.choices[0]!.message.tool_calls).toEqual([call("c2", "weather")]);
  });

  test("max_iterations: the last message with a note, finish_reason length, no pending calls", async () => {
    const ask = () => response("still going", [call("c", "s__a")]);
    const { fns, requests } = fakes([ask(), ask(), ask()], [], 3);
    const res = await runToolLoop(plan(), fns);
    expect(requests).toHaveLength(3);
    expect(res.choices[0]!.finish_reason).toBe("length");
    expect(res.choices[0]!.message.tool_calls).toBeUndefined();
    expect(res.choices[0]!.message.content).toBe(
      "still going\n\n[alloy: stopped after 3 model calls (mcp.max_iterations) with tool calls still pending: s__a]",
    );
    expect(res.usage).toEqual(usage(30, 6));
  });

  test("a forcing tool_choice applies to the first round only", async () => {
    const { fns, requests } = fakes([response(null, [call("c", "s__a")]), response("ok")]);
    await runToolLoop(plan({ tool_choice: "required" }), fns);
    expect(requests[0]!.tool_choice).toBe("required");
    expect(requests[1]!.tool_choice).toBe("auto");
  });
});

describe("streamToolLoop", () => {
  test("one stream: one id, role first, text of every round, one finish_reason, summed usage; tool rounds hidden", async () => {
    const { fns, requests, ran } = fakes([], [toolRound("up-1", [["c1", "s__a", '{"q":"x"}']], "Let me look."), textRound("up-2", ["The", " answer"])]);
    const out = await drain(await streamToolLoop(plan(), fns));
    expect(new Set(out.map((c) => c.id))).toEqual(new Set(["up-1"]));
    expect(out[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" });
    expect(out.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Let me look.\n\nThe answer");
    expect(out.some((c) => c.choices[0]?.delta.tool_calls)).toBe(false);
    expect(out.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(["stop"]);
    expect(out[out.length - 1]).toMatchObject({ choices: [], usage: usage(42, 7) });
    expect(ran).toEqual(["s__a"]);
    expect(requests[0]!.stream_options).toEqual({ include_usage: true });
    expect(requests[1]!.messages[1]).toEqual({ role: "assistant", content: "Let me look.", tool_calls: [call("c1", "s__a", '{"q":"x"}')] });
  });

  test("client tool calls end the stream as tool_calls deltas", async () => {
    const { fns, ran } = fakes([], [toolRound("u", [["c1", "s__a", "{}"], ["c2", "weather", '{"city":"P"}']])]);
    const out = await drain(await streamToolLoop(plan(), fns));
    expect(ran).toEqual([]);
    const deltas = out.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas).toEqual([{ index: 0, id: "c2", type: "function", function: { name: "weather", arguments: '{"city":"P"}' } }]);
    expect(out.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(["tool_calls"]);
  });

  test("max_iterations in a stream: a note and finish_reason length", async () => {
    const { fns } = fakes([], [toolRound("u", [["c", "s__a", "{}"]]), toolRound("v", [["c", "s__a", "{}"]])], 2);
    const out = await drain(await streamToolLoop(plan(), fns));
    expect(out.map((c) => c.choices[0]?.delta.content ?? "").join("")).toContain("stopped after 2 model calls");
    expect(out.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(["length"]);
  });

  test("a failure opening round 1 rejects before any chunk (an HTTP error, not a stream error)", async () => {
    const { fns } = fakes([]);
    fns.stream = async () => {
      throw new AlloyError("bad_request", "upstream says no");
    };
    await expect(streamToolLoop(plan(), fns)).rejects.toThrow("upstream says no");
  });

  test("a consumer that stops early frees the upstream stream", async () => {
    const { fns, returned } = fakes([], [textRound("u", ["a", "b", "c"])]);
    const s = await streamToolLoop(plan(), fns);
    await s.rest.next();
    await s.rest.return?.();
    expect(returned).toEqual([1]);
  });
});

describe("helpers", () => {
  test("ToolCallAccumulator joins argument fragments per index, in index order", () => {
    const acc = new ToolCallAccumulator();
    acc.add([{ index: 1, id: "b", type: "function", function: { name: "two", arguments: "" } }]);
    acc.add([{ index: 0, id: "a", type: "function", function: { name: "one", arguments: '{"x"' } }]);
    acc.add([{ index: 0, function: { arguments: ":1}" } }, { index: 1, function: { arguments: "{}" } }]);
    expect(acc.calls()).toEqual([call("a", "one", '{"x":1}'), call("b", "two", "{}")]);
  });

  test("addUsage sums tokens and details", () => {
    const a = { ...usage(10, 2), prompt_tokens_details: { cached_tokens: 4 } };
    const b = { ...usage(5, 1), completion_tokens_details: { reasoning_tokens: 3 } };
    expect(addUsage(addUsage(undefined, a), b)).toEqual({
      ...usage(15, 3),
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 3 },
    });
    expect(addUsage(undefined, null)).toBeUndefined();
  });
});
