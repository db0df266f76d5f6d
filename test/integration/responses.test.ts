// /v1/responses over real sockets: the official `openai` SDK against Alloy with a native Responses upstream (mock
// OpenAI), a translated OpenAI-compatible upstream (`responses = "chat"`), the `mock` provider and an MCP server;
// every object and event checked against OpenAI's OpenAPI spec. Also Alloy's store: GET, input_items, DELETE,
// previous_response_id across providers and across a restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { validate } from "../helpers/openapi.ts";
import { jsonResponse, nativeEvents, sseResponse, startOpenAIMock, textChunks, toolCallChunks, completion, type OpenAIMock } from "../mocks/openai-upstream.ts";

const STDIO = join(import.meta.dir, "..", "mocks", "mcp", "stdio-server.ts");
const KEY = "gw-key";

let native: OpenAIMock;
let compat: OpenAIMock;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  native = startOpenAIMock();
  compat = startOpenAIMock();
  gw = await startGateway(`
[server]
api_keys = ["${KEY}"]
timeout_secs = 10
[providers.openai]
api_key = "sk-native"
base_url = "${native.url}"
[providers.compat]
type = "openai"
base_url = "${compat.url}"
[providers.mock]
type = "mock"
[governance]
max_retries = 0
[models.flaky]
targets = ["openai/gpt-4o", "mock/echo"]
[mcp.servers.local]
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(STDIO)}]
env = { MOCK_LABEL = "local" }
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
  await gw.mcp!.whenConnected();
  // Compiling the spec's validators takes seconds: once here, not inside the first test's budget.
  validate("Response", {});
  validate("ResponseStreamEvent", {});
}, 30_000);

afterAll(async () => {
  await gw.stop(false);
  native.stop();
  compat.stop();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

/** An SSE body → its events (name and parsed data). */
async function events(res: Response): Promise<{ event: string | undefined; data: any }[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((b) => b.trim())
    .map((b) => {
      const event = /^event: (.*)$/m.exec(b)?.[1];
      const data = /^data: (.*)$/m.exec(b)![1]!;
      return { event, data: JSON.parse(data) };
    });
}

function expectWellFormedStream(evs: { event: string | undefined; data: any }[]) {
  expect(evs.map((e) => e.data.sequence_number)).toEqual(evs.map((_, i) => i));
  const terminal = evs.filter((e) => ["response.completed", "response.incomplete", "response.failed"].includes(e.data.type));
  expect(terminal.length).toBe(1);
  expect(evs.at(-1)).toBe(terminal[0]!);
  for (const e of evs) {
    expect(e.event).toBe(e.data.type);
    expect(validate("ResponseStreamEvent", e.data)).toEqual([]);
  }
}

describe("translated (mock provider)", () => {
  test("responses.create: a Response the spec accepts, stored, readable, listable, deletable", async () => {
    const r = await client.responses.create({ model: "mock/echo", input: "hello there", instructions: "Be brief.", metadata: { k: "v" } });
    expect(validate("Response", r)).toEqual([]);
    expect(r.output_text).toBe("You said: hello there");
    expect(r.model).toBe("mock/echo");
    expect(r.id).toMatch(/^resp_[0-9a-f]{32}$/);

    const got = await client.responses.retrieve(r.id);
    expect(validate("Response", got)).toEqual([]);
    expect(got).toEqual(r);
    const items = await client.responses.inputItems.list(r.id);
    expect(items.data.length).toBe(1);
    expect((items.data[0] as any).content[0].text).toBe("hello there");

    await client.responses.delete(r.id);
    const gone = await fetch(`${gw.url}/v1/responses/${r.id}`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as any).error.type).toBe("invalid_request_error");
    const chained = await post({ model: "mock/echo", input: "again", previous_response_id: r.id });
    expect(chained.status).toBe(400);
    expect(((await chained.json()) as any).error).toMatchObject({ type: "invalid_request_error", param: "previous_response_id" });
  });

  test("responses.stream: every event numbered from 0, one terminal event, the final response stored", async () => {
    const stream = client.responses.stream({ model: "mock/echo", input: "stream me please" });
    const seen: string[] = [];
    for await (const e of stream) seen.push(e.type);
    const final = await stream.finalResponse();
    expect(final.output_text).toBe("You said: stream me please");
    expect(seen.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
    expect(seen).toContain("response.output_text.delta");
    expect(seen.at(-1)).toBe("response.completed");
    const raw = await events(await post({ model: "mock/echo", input: "raw", stream: true }));
    expectWellFormedStream(raw);
    const stored = await client.responses.retrieve(raw.at(-1)!.data.response.id);
    expect(stored.output_text).toBe("You said: raw");
  });

  test("input_items: newest first unless order=asc; after and limit page through", async () => {
    const input = ["a", "b", "c"].map((t) => ({ role: "user" as const, content: t }));
    const r = await client.responses.create({ model: "mock/echo", input });
    const texts = (list: any[]) => list.map((i) => (typeof i.content === "string" ? i.content : i.content[0].text));
    const desc = await client.responses.inputItems.list(r.id);
    expect(texts(desc.data)).toEqual(["c", "b", "a"]);
    const asc = await client.responses.inputItems.list(r.id, { order: "asc", limit: 2 });
    expect(texts(asc.data)).toEqual(["a", "b"]);
    expect(asc.has_more).toBe(true);
    const next = await client.responses.inputItems.list(r.id, { order: "asc", after: asc.data[1]!.id });
    expect(texts(next.data)).toEqual(["c"]);
    const bad = await fetch(`${gw.url}/v1/responses/${r.id}/input_items?limit=0`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.param).toBe("limit");
  });

  test("store: false keeps nothing", async () => {
    const r = await client.responses.create({ model: "mock/echo", input: "secret", store: false });
    expect((r as any).store).toBe(false);
    expect((await fetch(`${gw.url}/v1/responses/${r.id}`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(404);
    const res = await post({ model: "mock/echo", input: "x", previous_response_id: r.id });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.param).toBe("previous_response_id");
  });

  test("a tool loop with a function tool (mock/tool:NAME calls it with the user's JSON)", async () => {
    const tools = [{ type: "function" as const, name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false }];
    const first = await client.responses.create({ model: "mock/tool:get_weather", input: '{"city":"Paris"}', tools });
    const call = first.output.find((o) => o.type === "function_call")!;
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", arguments: '{"city":"Paris"}' });
    const second = await client.responses.create({
      model: "mock/tool:get_weather",
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: (call as any).call_id, output: "sunny" }],
      tools,
    });
    expect(second.output_text).toBe("Tool result: sunny");
    expect(validate("Response", second)).toEqual([]);
  });

  test("MCP tools run on the configured server, as in chat", async () => {
    const r = await client.responses.create({ model: "mock/tool:echo", input: '{"text":"hi"}', tools: [{ type: "mcp", server_label: "local", require_approval: "never" } as any] });
    expect(r.output_text).toBe("Tool result: echo(local): hi");
    const bad = await post({ model: "mock/echo", input: "x", tools: [{ type: "mcp", server_label: "nope" }] });
    expect(bad.status).toBe(400);
  });

  test("GET /v1/responses with upgrade: websocket is 426 at once; the routes need a key", async () => {
    const ws = await fetch(`${gw.url}/v1/responses`, { headers: { authorization: `Bearer ${KEY}`, upgrade: "websocket", connection: "Upgrade" } });
    expect(ws.status).toBe(426);
    expect(((await ws.json()) as any).error.message).toContain("WebSocket");
    expect((await fetch(`${gw.url}/v1/responses/resp_x`)).status).toBe(401);
    expect((await fetch(`${gw.url}/v1/responses`, { method: "POST", body: "{}" })).status).toBe(401);
  });

  test("bad bodies are 400 in OpenAI's shape naming the field", async () => {
    const res = await post({ model: "mock/echo", input: [{ type: "message", role: "wizard", content: "x" }] });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.param).toStartWith("input[0]");
  });
});

describe("native (OpenAI upstream with the Responses API)", () => {
  test("JSON: the body goes unchanged except model, the answer's bytes come back unchanged", async () => {
    const body = { model: "openai/gpt-4o", input: "hi", future_field: { x: 1 }, reasoning: { effort: "low" } };
    const res = await post(body);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-alloy-provider")).toBe("openai");
    const text = await res.text();
    const call = native.calls.at(-1)!;
    expect(call.path).toBe("/v1/responses");
    expect(call.body).toEqual({ ...body, model: "gpt-4o" });
    expect(call.headers.authorization).toBe("Bearer sk-native");
    expect(text).toBe(JSON.stringify(JSON.parse(text))); // the mock's own serialisation
    const r = JSON.parse(text);
    expect(r.output[0].content[0].text).toBe("Hello from native");
    expect(validate("Response", r)).toEqual([]);
    // Stored by Alloy under the upstream's id.
    expect((await client.responses.retrieve(r.id)).id).toBe(r.id);
  });

  test("SSE: events relayed unchanged; a cut stream ends with one response.failed numbered after the last", async () => {
    const raw = await events(await post({ model: "openai/gpt-4o", input: "hi", stream: true }));
    expectWellFormedStream(raw);
    expect(raw.at(-1)!.data.response.output[0].content[0].text).toBe("Hello from native");

    native.script = (c) => sseResponse(nativeEvents(c.body.model, ["Hel", "lo"], { cut: true }), { done: false });
    try {
      const cut = await events(await post({ model: "openai/gpt-4o", input: "hi", stream: true }));
      expectWellFormedStream(cut);
      expect(cut.at(-1)!.data).toMatchObject({ type: "response.failed", response: { status: "failed", error: { code: "server_error" } } });
    } finally {
      native.script = (await import("../mocks/openai-upstream.ts")).defaultScript;
    }
  });

  test("previous_response_id across providers and failover: the stored turns go to whichever target serves", async () => {
    // Turn 1 on the native upstream; turn 2 on a translated one; turn 3 native again, with failover to mock.
    const t1 = await client.responses.create({ model: "openai/gpt-4o", input: "first question", instructions: "only turn one" });
    const t2 = await client.responses.create({ model: "compat/llama", input: "second question", previous_response_id: t1.id });
    const chatCall = compat.calls.at(-1)!;
    expect(chatCall.path).toBe("/v1/chat/completions");
    expect(chatCall.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "first question" }] },
      { role: "assistant", content: "Hello from native" },
      { role: "user", content: "second question" },
    ]); // instructions do not carry over
    expect(t2.previous_response_id).toBe(t1.id);

    const t3 = await client.responses.create({ model: "openai/gpt-4o", input: "third", previous_response_id: t2.id });
    const nativeCall = native.calls.at(-1)!.body;
    expect(nativeCall.previous_response_id).toBeUndefined();
    expect(nativeCall.input.map((i: any) => i.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
    expect(t3.id).toBeString();

    native.script = () => jsonResponse({ error: { message: "overloaded", type: "server_error", param: null, code: null } }, 503);
    try {
      const t4 = await client.responses.create({ model: "flaky", input: "fourth", previous_response_id: t3.id });
      expect(t4.output_text).toBe("You said: fourth");
      const t5 = await client.responses.create({ model: "mock/echo", input: "fifth", previous_response_id: t4.id });
      expect(t5.output_text).toBe("You said: fifth");
    } finally {
      native.script = (await import("../mocks/openai-upstream.ts")).defaultScript;
    }
  });
});

describe("translated OpenAI-compatible upstream (responses = \"chat\")", () => {
  test("namespace and custom tools are flattened; calls come back as function_call {namespace} / custom_tool_call", async () => {
    compat.script = (c) => {
      const calls = [
        { id: "call_a", type: "function", function: { name: "clock__sleep", arguments: '{"duration_ms":1}' } },
        { id: "call_b", type: "function", function: { name: "functions__exec", arguments: '{"input":"text(1)"}' } },
      ];
      if (c.body.stream)
        return sseResponse(toolCallChunks(c.body.model, calls.map((x) => ({ id: x.id, name: x.function.name, args: [x.function.arguments] })), true));
      return jsonResponse(completion(c.body.model, null, { tool_calls: calls }));
    };
    const tools = [
      { type: "namespace", name: "clock", description: "", tools: [{ type: "function", name: "sleep", parameters: { type: "object", properties: {} } }] },
      { type: "namespace", name: "functions", description: "", tools: [{ type: "custom", name: "exec", format: { type: "grammar", syntax: "lark", definition: "start: /.+/" } }] },
    ];
    try {
      const r = (await (await post({ model: "compat/llama", input: "go", tools })).json()) as any;
      expect(compat.calls.at(-1)!.body.tools.map((t: any) => t.function.name)).toEqual(["clock__sleep", "functions__exec"]);
      expect(r.output).toMatchObject([
        { type: "function_call", name: "sleep", namespace: "clock", call_id: "call_a", arguments: '{"duration_ms":1}' },
        { type: "custom_tool_call", name: "exec", namespace: "functions", call_id: "call_b", input: "text(1)" },
      ]);
      expect(validate("Response", r)).toEqual([]);
      const s = await events(await post({ model: "compat/llama", input: "go", tools, stream: true }));
      expectWellFormedStream(s);
      expect(s.find((e) => e.data.type === "response.custom_tool_call_input.done")!.data.input).toBe("text(1)");
      // The calls and their outputs go back upstream under the flattened names.
      compat.script = (c) => jsonResponse(completion(c.body.model, "done"));
      await post({
        model: "compat/llama",
        tools,
        input: [
          { type: "function_call", call_id: "call_a", name: "sleep", namespace: "clock", arguments: "{}" },
          { type: "function_call_output", call_id: "call_a", output: "slept" },
          { type: "custom_tool_call", call_id: "call_b", name: "exec", namespace: "functions", input: "text(1)" },
          { type: "custom_tool_call_output", call_id: "call_b", output: "1" },
        ],
      });
      const msgs = compat.calls.at(-1)!.body.messages;
      expect(msgs[0].tool_calls[0].function.name).toBe("clock__sleep");
      expect(msgs[2].tool_calls[0].function).toEqual({ name: "functions__exec", arguments: '{"input":"text(1)"}' });
      expect(msgs[3]).toEqual({ role: "tool", tool_call_id: "call_b", content: "1" });
    } finally {
      compat.script = (await import("../mocks/openai-upstream.ts")).defaultScript;
    }
  });

  test("a stream cut mid-answer ends with response.failed, never response.completed", async () => {
    compat.script = (c) => sseResponse(textChunks(c.body.model, ["Hel", "lo"], true).slice(0, 2), { done: false });
    try {
      const s = await events(await post({ model: "compat/llama", input: "hi", stream: true }));
      expectWellFormedStream(s);
      expect(s.at(-1)!.data.type).toBe("response.failed");
    } finally {
      compat.script = (await import("../mocks/openai-upstream.ts")).defaultScript;
    }
  });
});

describe("the store across a restart", () => {
  test("GET, input_items and previous_response_id work after the gateway restarts on the same file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alloy-store-"));
    const toml = `[providers.mock]\ntype = "mock"\n[store]\nurl = "sqlite://${join(dir, "alloy.db")}"\n`;
    try {
      let g = await startGateway(toml);
      let c = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: "k", maxRetries: 0 });
      const first = await c.responses.create({ model: "mock/echo", input: "remember me" });
      await g.stop();
      g = await startGateway(toml);
      try {
        c = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: "k", maxRetries: 0 });
        expect((await c.responses.retrieve(first.id)).output_text).toBe("You said: remember me");
        expect((await c.responses.inputItems.list(first.id)).data.length).toBe(1);
        const next = await c.responses.create({ model: "mock/echo", input: "and now", previous_response_id: first.id });
        expect(next.output_text).toBe("You said: and now");
      } finally {
        await g.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
