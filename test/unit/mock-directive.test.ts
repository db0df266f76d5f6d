// The mock provider's `[mock:tool NAME {args}]` directive: a deterministic, keyless way to make it call a named tool.
import { describe, expect, test } from "bun:test";
import { MockProvider, parseDirective } from "../../src/providers/mock.ts";
import type { ChatRequest } from "../../src/openai/schema.ts";

const mock = new MockProvider("mock", { latency_ms: 0, fail_rate: 0 } as never);
const tools = [{ type: "function" as const, function: { name: "Read", parameters: { type: "object" } } }];

describe("parseDirective", () => {
  test("name and JSON arguments; no arguments is {}; arguments that are not an object are no directive", () => {
    expect(parseDirective('do it [mock:tool Read {"file_path":"/tmp/a]b"}] now')).toEqual({ name: "Read", arguments: '{"file_path":"/tmp/a]b"}' });
    expect(parseDirective("[mock:tool Ping]")).toEqual({ name: "Ping", arguments: "{}" });
    expect(parseDirective("[mock:tool Read [1]]")).toBeUndefined();
    expect(parseDirective("[mock:tool Read {oops}]")).toBeUndefined();
    expect(parseDirective("no directive")).toBeUndefined();
  });
});

describe("answer", () => {
  test("calls the named tool with the arguments when it is offered", () => {
    const a = mock.answer({ model: "m", tools, messages: [{ role: "user", content: 'read [mock:tool Read {"file_path":"/x"}]' }] } as ChatRequest);
    expect(a.toolCalls).toEqual([{ id: expect.stringMatching(/^call_/), type: "function", function: { name: "Read", arguments: '{"file_path":"/x"}' } }]);
    expect(a.content).toBeNull();
  });

  test("after the tool result (even with more user text after it) answers Tool result: <result>", () => {
    const req = {
      model: "m",
      tools,
      messages: [
        { role: "user", content: 'read [mock:tool Read {"file_path":"/x"}]' },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "Read", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "file body" },
        { role: "user", content: "<system-reminder>x</system-reminder>" },
      ],
    } as ChatRequest;
    expect(mock.answer(req)).toMatchObject({ content: "Tool result: file body", toolCalls: undefined });
  });

  test("a tool that is not offered is no directive: the usual echo", () => {
    const a = mock.answer({ model: "m", messages: [{ role: "user", content: "[mock:tool Read]" }] } as ChatRequest);
    expect(a).toMatchObject({ content: "You said: [mock:tool Read]", toolCalls: undefined });
  });
});
