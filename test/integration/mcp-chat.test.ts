// MCP through the gateway, end to end: the official `openai` client → Alloy (tool loop) → a scripted mock model, with
// real MCP servers over stdio, SSE and streamable HTTP. Also /ready and the /v1/mcp routes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import OpenAI from "openai";
import type { ServerState } from "../../src/mcp/servers.ts";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { startStreamableMcp } from "../mocks/mcp/http-server.ts";
import { startSseMcp, type MockHttpMcp } from "../mocks/mcp/sse-server.ts";
import { toolModel } from "../mocks/mcp/tool-model.ts";
import { startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

const STDIO = join(import.meta.dir, "..", "mocks", "mcp", "stdio-server.ts");
const stdioServer = (name: string, mode = "normal") => `
[mcp.servers.${name}]
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(STDIO)}]
env = { MOCK_LABEL = "${name}", MOCK_MODE = "${mode}" }
`;

let upstream: OpenAIMock;
let sse: MockHttpMcp;
let http: MockHttpMcp;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = startOpenAIMock(toolModel);
  sse = await startSseMcp("events");
  http = await startStreamableMcp("remote");
  gw = await startGateway(`
[server]
timeout_secs = 20
[providers.openai]
api_key = "sk-upstream"
base_url = "${upstream.url}"
[governance]
max_retries = 0
[models.assistant]
targets = ["openai/gpt-4o"]
mcp_servers = ["remote"]
[mcp]
max_iterations = 3
tool_timeout_secs = 0.4
${stdioServer("local")}
[mcp.servers.events]
transport = "sse"
url = "${sse.url}"
[mcp.servers.remote]
transport = "streamable-http"
url = "${http.url}"
headers = { Authorization = "Bearer mcp-secret" }
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "k", maxRetries: 0 });
  await gw.mcp!.whenConnected();
});

afterAll(async () => {
  await gw.stop(false);
  upstream.stop();
  await sse.close();
  await http.close();
});

const user = (content: string) => [{ role: "user" as const, content }];
const mcpTool = (server_label: string, extra: Record<string, unknown> = {}) => ({ type: "mcp", server_label, ...extra }) as any;
const callsSince = (n: number) => upstream.calls.slice(n);

async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  const finish = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
  const usage = chunks.find((c) => c.usage)?.usage;
  return { chunks, text, finish, usage };
}

describe("readiness and routes", () => {
  test("/ready is 200 with every MCP server's state once all are connected", async () => {
    const res = await fetch(`${gw.url}/ready`);
    expect(res.status).toBe(200);
    const body: any = await res.json();
    expect(body.mcp_servers).toEqual({
      local: { state: "connected", tools: expect.any(Number) },
      events: { state: "connected", tools: expect.any(Number) },
      remote: { state: "connected", tools: expect.any(Number) },
    });
  });

  test("a server that cannot start keeps /ready at 503 with reasons, never /health, and its tools answer 503", async () => {
    const other = await startGateway(`
[providers.openai]
api_key = "sk-upstream"
base_url = "${upstream.url}"
${stdioServer("broken", "exit")}
${stdioServer("mute", "hang-init")}
`);
    try {
      expect((await fetch(`${other.url}/health`)).status).toBe(200);
      if (other.mcp!.status().broken!.state !== "reconnecting")
        await new Promise<void>((resolve) => other.mcp!.events.on("state", (s: string, st: ServerState) => s === "broken" && st === "reconnecting" && resolve()));
      const res = await fetch(`${other.url}/ready`);
      expect(res.status).toBe(503);
      const body: any = await res.json();
      expect(body.status).toBe("not_ready");
      expect(body.mcp_servers.mute.state).toBe("connecting");
      expect(body.mcp_servers.broken.state).toBe("reconnecting");
      expect(body.reasons).toContain("mcp server 'mute' is connecting");
      expect(body.reasons.some((r: string) => r.startsWith("mcp server 'broken' is reconnecting"))).toBe(true);
      expect(other.logs.some((l) => l.includes("mcp server broken failed to connect"))).toBe(true);
      const chat = await fetch(`${other.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "openai/gpt-4o", messages: user("hi"), tools: [mcpTool("mute")] }),
      });
      expect(chat.status).toBe(503);
      expect(((await chat.json()) as any).error.message).toContain("mute");
    } finally {
      await other.stop(false);
    }
  });

  test("GET /v1/mcp/tools lists tools as the model sees them", async () => {
    const res = await fetch(`${gw.url}/v1/mcp/tools`, { headers: { "x-request-id": "list-1" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("list-1");
    const body: any = await res.json();
    expect(body.object).toBe("list");
    const echo = body.data.find((t: any) => t.name === "events__echo");
    expect(echo).toEqual({
      name: "events__echo",
      server: "events",
      description: "Echo the text back",
      input_schema: expect.objectContaining({ type: "object", properties: { text: { type: "string" } } }),
    });
    for (const t of body.data) expect(t.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(new Set(body.data.map((t: any) => t.server))).toEqual(new Set(["local", "events", "remote"]));
  });

  test("POST /v1/mcp/tools/call runs a tool; tool errors are results; unknown → 404, bad body → 400", async () => {
    const post = (body: string) =>
      fetch(`${gw.url}/v1/mcp/tools/call`, { method: "POST", headers: { "content-type": "application/json", "x-request-id": "call-1" }, body });
    const ok = await post(JSON.stringify({ name: "remote__add", arguments: { a: 20, b: 22 } }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ content: [{ type: "text", text: "42" }], isError: false });
    expect(http.headers.some((h) => h.authorization === "Bearer mcp-secret")).toBe(true);

    const failed = await post(JSON.stringify({ name: "local__fail" }));
    expect(await failed.json()).toEqual({ content: [{ type: "text", text: "the disk is on fire" }], isError: true });

    const unknown = await post(JSON.stringify({ name: "nope__nothing", arguments: {} }));
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("x-request-id")).toBe("call-1");
    expect(await unknown.json()).toEqual({
      error: { message: "Unknown MCP tool 'nope__nothing'", type: "invalid_request_error", param: "name", code: "tool_not_found" },
    });

    for (const bad of ["{not json", JSON.stringify({ arguments: {} }), JSON.stringify({ name: "remote__add", arguments: [1] }), "[]"]) {
      const res = await post(bad);
      expect(res.status).toBe(400);
      expect(res.headers.get("x-request-id")).toBe("call-1");
      const body: any = await res.json();
      expect(body.error.type).toBe("invalid_request_error");
    }
  });
});

describe("the tool loop through the openai client", () => {
  test("non-streamed: the gateway runs the tool and answers with the final message, usage summed", async () => {
    const n = upstream.calls.length;
    const res = await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user('call local__echo {"text":"hello"}'),
      tools: [mcpTool("local")],
    });
    expect(res.choices[0]!.message.content).toBe("Tool said: echo(local): hello");
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.usage).toMatchObject({ prompt_tokens: 24, completion_tokens: 10, total_tokens: 34 });
    const [first, second] = callsSince(n);
    expect(callsSince(n)).toHaveLength(2);
    // Upstream sees function tools only, namespaced; never the mcp entry.
    expect(first!.body.tools.every((t: any) => t.type === "function")).toBe(true);
    expect(first!.body.tools.map((t: any) => t.function.name)).toContain("local__echo");
    const msgs = second!.body.messages;
    expect(msgs[1]).toMatchObject({ role: "assistant", tool_calls: [{ type: "function", function: { name: "local__echo", arguments: '{"text":"hello"}' } }] });
    expect(msgs[2]).toMatchObject({ role: "tool", tool_call_id: msgs[1].tool_calls[0].id, content: "echo(local): hello" });
  });

  test("streamed: one well-formed stream — one id, role first, text, finish_reason, summed usage, no tool rounds", async () => {
    const stream = await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user('call events__add {"a":2,"b":3}\ncall local__echo {"text":"x"}'),
      tools: [mcpTool("events"), mcpTool("local")],
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks, text, finish, usage } = await collect(stream);
    expect(text).toBe("Tool said: 5 | echo(local): x");
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(chunks.some((c) => c.choices[0]?.delta?.tool_calls)).toBe(false);
    expect(finish).toEqual(["stop"]);
    // Tool round 30/9 + answer round 12/(6 words).
    expect(usage).toMatchObject({ prompt_tokens: 42, completion_tokens: 15, total_tokens: 57 });
    expect(chunks[chunks.length - 1]!.choices).toEqual([]);
  });

  test("allowed_tools limits what the model is offered", async () => {
    const n = upstream.calls.length;
    await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user("hi"),
      tools: [mcpTool("events", { allowed_tools: ["add", "whoami"] })],
    });
    expect(upstream.calls[n]!.body.tools.map((t: any) => t.function.name).sort()).toEqual(["events__add", "events__whoami"]);
  });

  test("a call to the client's own tool ends the loop; MCP calls of that round are not returned", async () => {
    const weather = { type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: {} } } };
    const n = upstream.calls.length;
    const res = await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user('call local__echo {"text":"a"}\ncall get_weather {"city":"Paris"}'),
      tools: [weather, mcpTool("local")],
    });
    expect(callsSince(n)).toHaveLength(1);
    expect(upstream.calls[n]!.body.tools.map((t: any) => t.function.name)).toContain("get_weather");
    expect(res.choices[0]!.finish_reason).toBe("tool_calls");
    expect(res.choices[0]!.message.tool_calls!.map((c) => (c as any).function.name)).toEqual(["get_weather"]);

    const stream = await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user('call local__echo {"text":"a"}\ncall get_weather {"city":"Paris"}'),
      tools: [weather, mcpTool("local")],
      stream: true,
    });
    const { chunks, finish } = await collect(stream);
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(deltas).toEqual([{ index: 0, id: expect.any(String), type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }]);
    expect(finish).toEqual(["tool_calls"]);
  });

  test('require_approval "always": calls come back to the client, who runs them with /v1/mcp/tools/call', async () => {
    const n = upstream.calls.length;
    const res = await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user('call remote__echo {"text":"approved"}'),
      tools: [mcpTool("remote", { require_approval: "always" })],
    });
    expect(callsSince(n)).toHaveLength(1);
    expect(res.choices[0]!.finish_reason).toBe("tool_calls");
    const call = res.choices[0]!.message.tool_calls![0] as any;
    expect(call.function.name).toBe("remote__echo");
    const run = await fetch(`${gw.url}/v1/mcp/tools/call`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: call.function.name, arguments: JSON.parse(call.function.arguments) }),
    });
    expect(await run.json()).toEqual({ content: [{ type: "text", text: "echo(remote): approved" }], isError: false });
  });

  test("an unknown server_label is a 400 that never reaches the upstream", async () => {
    const n = upstream.calls.length;
    const err: any = await client.chat.completions
      .create({ model: "openai/gpt-4o", messages: user("hi"), tools: [mcpTool("nowhere")] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.error.message).toContain("nowhere");
    expect(err.error.param).toBe("tools[0].server_label");
    expect(upstream.calls.length).toBe(n);
  });

  test("max_iterations reached: the last answer with a note and finish_reason length, not an error", async () => {
    const n = upstream.calls.length;
    const res = await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user('again\ncall local__add {"a":1,"b":2}'),
      tools: [mcpTool("local")],
    });
    expect(callsSince(n)).toHaveLength(3);
    expect(res.choices[0]!.finish_reason).toBe("length");
    expect(res.choices[0]!.message.content).toContain("stopped after 3 model calls (mcp.max_iterations)");
    expect(res.choices[0]!.message.tool_calls).toBeUndefined();
    expect(res.usage!.total_tokens).toBe(51);

    const stream = await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user('again\ncall local__add {"a":1,"b":2}'),
      tools: [mcpTool("local")],
      stream: true,
    });
    const { text, finish } = await collect(stream);
    expect(text).toContain("stopped after 3 model calls");
    expect(finish).toEqual(["length"]);
  });

  test("tool errors and timeouts reach the model as the tool result", async () => {
    const res = await client.chat.completions.create({
      model: "openai/gpt-4o",
      messages: user("call local__fail {}\ncall local__hang {}\ncall local__add {bad json"),
      tools: [mcpTool("local")],
    });
    const content = res.choices[0]!.message.content!;
    const [fail, hang, bad] = content.replace("Tool said: ", "").split(" | ");
    expect(fail).toBe("Tool error: the disk is on fire");
    expect(hang).toBe("Tool error: MCP tool 'local__hang' did not finish within 0.4s (mcp.tool_timeout_secs)");
    expect(bad).toStartWith("Tool error: the arguments are not valid JSON");
  });

  test("an alias's mcp_servers gives its tools to every request; client tools merge in", async () => {
    const n = upstream.calls.length;
    const res = await client.chat.completions.create({
      model: "assistant",
      messages: user('call remote__add {"a":40,"b":2}'),
      tools: [{ type: "function", function: { name: "mine", parameters: { type: "object", properties: {} } } }],
    });
    expect(res.choices[0]!.message.content).toBe("Tool said: 42");
    const names = upstream.calls[n]!.body.tools.map((t: any) => t.function.name);
    expect(names).toContain("mine");
    expect(names).toContain("remote__add");
  });

  test("an MCP server restarted behind Alloy's back is picked up without restarting Alloy", async () => {
    const whoami = async () =>
      (
        await client.chat.completions.create({ model: "assistant", messages: user("call remote__whoami {}") })
      ).choices[0]!.message.content!;
    const before = await whoami();
    const down = new Promise<void>((resolve) =>
      gw.mcp!.events.on("state", (s: string, st: ServerState) => s === "remote" && st === "reconnecting" && resolve()),
    );
    const port = http.port;
    await http.close();
    await down;
    http = await startStreamableMcp("remote", port);
    // Reconnect backoff may exceed this test's 0.4 s tool timeout, so wait for the manager's event first.
    await gw.mcp!.whenConnected(["remote"]);
    const after = await whoami();
    expect(before).toStartWith("Tool said: remote pid=");
    expect(after).toStartWith("Tool said: remote pid=");
    expect(after).not.toBe(before);
  });
});
