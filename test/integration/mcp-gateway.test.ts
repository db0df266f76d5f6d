// /mcp end to end: the SDK's own Client over streamable HTTP against Alloy fronting real MCP servers (stdio, SSE,
// streamable HTTP): tools, prompts and resources aggregated and namespaced, key filters on /mcp, /v1/mcp/tools* and in
// chat, rpm, a list change reaching the client, a killed server, session bounds, and no servers configured at all.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";
import { startStreamableMcp } from "../mocks/mcp/http-server.ts";
import { startSseMcp, type MockHttpMcp } from "../mocks/mcp/sse-server.ts";

const STDIO = join(import.meta.dir, "..", "mocks", "mcp", "stdio-server.ts");

let sse: MockHttpMcp;
let http: MockHttpMcp;
let gw: TestGateway;
const clients: Client[] = [];

const KEYS = `
[server.keys.full]
key = "k-full"
[server.keys.remote_only]
key = "k-remote"
mcp_servers = ["remote"]
mcp_tools = ["remote__echo", "remote__add_*", "remote__fresh*"]
[server.keys.echo_only]
key = "k-echo"
mcp_tools = ["local__echo"]
[server.keys.slow]
key = "k-slow"
rpm = 2
`;

const SERVERS = `
[mcp.servers.local]
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(STDIO)}]
env = { MOCK_LABEL = "local" }
`;

beforeAll(async () => {
  sse = await startSseMcp("events");
  http = await startStreamableMcp("remote");
  gw = await startGateway(`
${KEYS}
[providers.mock]
type = "mock"
[mcp]
tool_timeout_secs = 1
${SERVERS}
[mcp.servers.events]
transport = "sse"
url = "${sse.url}"
[mcp.servers.remote]
transport = "streamable-http"
url = "${http.url}"
`);
  await gw.mcp!.whenConnected();
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await gw.stop(false);
  await sse.close();
  await http.close();
});

async function connect(key: string | undefined, url = `${gw.url}/mcp`): Promise<Client> {
  const client = new Client({ name: "test", version: "1.0.0" });
  const requestInit = key ? { headers: { authorization: `Bearer ${key}` } } : undefined;
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit }));
  clients.push(client);
  return client;
}

const text = (r: object) => ((("content" in r ? r.content : undefined) ?? []) as Array<{ text?: string }>).map((c) => c.text ?? "").join("");
const toolNames = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort();
/** Calls the manager ran for this tool (its debug line), to show a refused call reached no server. */
const ran = (tool: string) => gw.logs.filter((l) => l.includes('"msg":"mcp tool call"') && l.includes(`"tool":"${tool}"`)).length;
const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

async function restList(key: string): Promise<string[]> {
  const res = await fetch(`${gw.url}/v1/mcp/tools`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Array<{ name: string }> }).data.map((t) => t.name).sort();
}

describe("/mcp tools", () => {
  test("initialize names Alloy; tools/list has every server's tools, named as GET /v1/mcp/tools names them", async () => {
    const c = await connect("k-full");
    expect(c.getServerVersion()?.name).toBe("alloy");
    expect(c.getServerCapabilities()?.tools?.listChanged).toBe(true);
    const names = await toolNames(c);
    for (const s of ["local", "events", "remote"]) for (const t of ["echo", "add", "fail"]) expect(names).toContain(`${s}__${t}`);
    expect(names).toEqual(await restList("k-full"));
    const echo = (await c.listTools()).tools.find((t) => t.name === "remote__echo")!;
    expect(echo.description).toBe("Echo the text back");
    expect(echo.inputSchema).toMatchObject({ type: "object", properties: { text: { type: "string" } } });
  });

  test("tools/call runs on the owning server over every transport; a tool error is a result", async () => {
    const c = await connect("k-full");
    for (const [s, label] of [["local", "local"], ["events", "events"], ["remote", "remote"]])
      expect(text(await c.callTool({ name: `${s}__echo`, arguments: { text: "hi" } }))).toBe(`echo(${label}): hi`);
    expect(text(await c.callTool({ name: "remote__add", arguments: { a: 2, b: 40 } }))).toBe("42");
    const failed = await c.callTool({ name: "events__fail", arguments: {} });
    expect(failed.isError).toBe(true);
    expect(text(failed)).toBe("the disk is on fire");
    // The call went through the manager: its log line (and metrics hook) saw it.
    expect(ran("add")).toBeGreaterThan(0);
  });

  test("an unknown tool is a JSON-RPC error and reaches no server", async () => {
    const c = await connect("k-full");
    const err = await rejection(c.callTool({ name: "remote__nope", arguments: {} }));
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32602);
    expect((err as McpError).message).toContain("Unknown tool 'remote__nope'");
  });

  test("a hanging tool is cut by mcp.tool_timeout_secs with a clean error", async () => {
    const c = await connect("k-full");
    const err = (await rejection(c.callTool({ name: "remote__hang", arguments: {} }))) as McpError;
    expect(err).toBeInstanceOf(McpError);
    expect(err.message).toContain("did not finish within 1s");
    expect(text(await c.callTool({ name: "remote__echo", arguments: { text: "after" } }))).toBe("echo(remote): after");
  });
});

describe("gateway keys", () => {
  test("no key or a wrong key is a 401 before any session exists", async () => {
    const sessions = gw.mcpGateway!.sessionCount;
    for (const key of [undefined, "k-wrong"]) {
      const res = await fetch(`${gw.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
    }
    expect(gw.mcpGateway!.sessionCount).toBe(sessions);
  });

  test("mcp_servers and mcp_tools limit what /mcp lists and may call; a refused call reaches no server", async () => {
    const c = await connect("k-remote");
    expect(await toolNames(c)).toEqual(["remote__add_tool", "remote__echo"]);
    expect(text(await c.callTool({ name: "remote__echo", arguments: { text: "ok" } }))).toBe("echo(remote): ok");
    const before = [ran("add"), ran("echo")];
    for (const name of ["remote__add", "local__echo"]) {
      const err = (await rejection(c.callTool({ name, arguments: { a: 1, b: 2, text: "x" } }))) as McpError;
      expect(err).toBeInstanceOf(McpError);
      expect(err.code).toBe(-32602);
      expect(err.message).toContain(`not allowed to use the MCP tool '${name}'`);
    }
    expect([ran("add"), ran("echo")]).toEqual(before);
    const echoOnly = await connect("k-echo");
    expect(await toolNames(echoOnly)).toEqual(["local__echo"]);
  });

  test("the same filters apply to GET /v1/mcp/tools and POST /v1/mcp/tools/call", async () => {
    expect(await restList("k-remote")).toEqual(["remote__add_tool", "remote__echo"]);
    expect(await restList("k-echo")).toEqual(["local__echo"]);
    const call = (key: string, name: string) =>
      fetch(`${gw.url}/v1/mcp/tools/call`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ name, arguments: { text: "rest" } }),
      });
    const ok = await call("k-echo", "local__echo");
    expect(ok.status).toBe(200);
    expect(text((await ok.json()) as { content: unknown })).toBe("echo(local): rest");
    const before = ran("echo");
    const refused = await call("k-echo", "remote__echo");
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error.code).toBe("tool_not_allowed");
    expect(ran("echo")).toBe(before);
  });

  test("and to MCP tools in chat: a forbidden server is a 403, forbidden tools are not offered to the model", async () => {
    const chat = (key: string, content: string, tools: unknown[]) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "mock/m", messages: [{ role: "user", content }], tools }),
      });
    const forbidden = await chat("k-remote", "hi", [{ type: "mcp", server_label: "local" }]);
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as any).error.code).toBe("mcp_server_not_allowed");
    // The mock model calls the tool a directive names only when that tool is offered.
    const allowed = await chat("k-remote", '[mock:tool remote__echo {"text":"via chat"}]', [{ type: "mcp", server_label: "remote" }]);
    expect(((await allowed.json()) as any).choices[0].message.content).toBe("Tool result: echo(remote): via chat");
    const before = ran("add");
    const filtered = await chat("k-remote", '[mock:tool remote__add {"a":1,"b":1}]', [{ type: "mcp", server_label: "remote" }]);
    expect(((await filtered.json()) as any).choices[0].message.content).toStartWith("You said:");
    expect(ran("add")).toBe(before);
  });

  test("tool calls count in the key's rpm; listing does not", async () => {
    const c = await connect("k-slow");
    for (let i = 0; i < 2; i++) expect(text(await c.callTool({ name: "local__add", arguments: { a: i, b: 1 } }))).toBe(String(i + 1));
    const err = (await rejection(c.callTool({ name: "local__add", arguments: { a: 1, b: 1 } }))) as McpError;
    expect(err).toBeInstanceOf(McpError);
    expect(err.message).toContain("Rate limit reached for key 'slow': 2 requests per minute");
    expect((err.data as any).retry_after_ms).toBeGreaterThan(0);
    expect((await toolNames(c)).length).toBeGreaterThan(0);
  });

  test("a session belongs to its key: another key presenting its id gets 404", async () => {
    const init = await rawInit(gw.url, "k-full");
    const res = await fetch(`${gw.url}/mcp`, {
      method: "POST",
      headers: { ...rawHeaders("k-echo"), "mcp-session-id": init.sid },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.message).toBe("Session not found");
  });
});

describe("/mcp prompts and resources", () => {
  test("prompts are aggregated and namespaced; prompts/get runs on the owning server", async () => {
    const c = await connect("k-full");
    const names = (await c.listPrompts()).prompts.map((p) => p.name).sort();
    expect(names).toEqual(["events__greet", "local__greet", "remote__greet"]);
    const got = await c.getPrompt({ name: "events__greet", arguments: { who: "Ann" } });
    expect(got.messages[0]!.content).toEqual({ type: "text", text: "Say hello to Ann (from events)" });
    const limited = await connect("k-remote");
    expect((await limited.listPrompts()).prompts.map((p) => p.name)).toEqual(["remote__greet"]);
    expect(await rejection(limited.getPrompt({ name: "local__greet", arguments: { who: "x" } }))).toBeInstanceOf(McpError);
  });

  test("resources and templates come from every server under alloy://<server>/; reads go to the owner", async () => {
    const c = await connect("k-full");
    const resources = (await c.listResources()).resources;
    expect(resources.map((r) => r.uri).sort()).toEqual(["alloy://events/mock://events/readme", "alloy://local/mock://local/readme", "alloy://remote/mock://remote/readme"]);
    expect(resources.find((r) => r.uri.startsWith("alloy://local/"))!.name).toBe("local__readme");
    const read = await c.readResource({ uri: "alloy://remote/mock://remote/readme" });
    expect(read.contents).toEqual([{ uri: "alloy://remote/mock://remote/readme", mimeType: "text/plain", text: "readme of remote" }]);
    const templates = (await c.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate).sort();
    expect(templates).toContain("alloy://local/mock://local/notes/{id}");
    const note = await c.readResource({ uri: "alloy://local/mock://local/notes/7" });
    expect(note.contents[0]).toMatchObject({ uri: "alloy://local/mock://local/notes/7", text: "note 7 of local" });
    for (const uri of ["mock://local/readme", "alloy://nope/x"]) expect(await rejection(c.readResource({ uri }))).toBeInstanceOf(McpError);
    const limited = await connect("k-remote");
    expect((await limited.listResources()).resources.map((r) => r.uri)).toEqual(["alloy://remote/mock://remote/readme"]);
    expect(await rejection(limited.readResource({ uri: "alloy://local/mock://local/readme" }))).toBeInstanceOf(McpError);
  });
});

describe("list changes and failures", () => {
  test("a server's tools/list_changed reaches connected /mcp clients, and the new tool is listed and callable", async () => {
    const c = await connect("k-remote");
    let changed = 0;
    c.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    // The notification travels on the session's GET stream: wait until the client has it open.
    await waitFor(() => gw.logs.some((l) => l.includes('"route":"/mcp"') && l.includes('"method":"GET"')), "the client's event stream");
    await c.callTool({ name: "remote__add_tool", arguments: { name: "fresh" } });
    await waitFor(() => changed > 0, "notifications/tools/list_changed");
    await waitFor(() => gw.mcp!.lookup("remote__fresh") !== undefined, "the manager's refresh");
    expect(await toolNames(c)).toContain("remote__fresh");
    expect(text(await c.callTool({ name: "remote__fresh", arguments: {} }))).toBe("new tool fresh");
  });

  test("a killed server gives a clean error for its tools while the others keep working, and comes back", async () => {
    const c = await connect("k-full");
    const port = http.port;
    await http.close();
    const err = (await rejection(c.callTool({ name: "remote__echo", arguments: { text: "x" } }))) as McpError;
    expect(err).toBeInstanceOf(McpError);
    expect(err.message).toContain("remote__echo");
    expect(text(await c.callTool({ name: "local__echo", arguments: { text: "still" } }))).toBe("echo(local): still");
    expect(text(await c.callTool({ name: "events__echo", arguments: { text: "still" } }))).toBe("echo(events): still");
    // Its tools stay listed (last known) while it reconnects, as in the tool loop.
    expect(await toolNames(c)).toContain("remote__echo");
    http = await startStreamableMcp("remote", port);
    await gw.mcp!.whenConnected(["remote"], AbortSignal.timeout(8000));
    expect(text(await c.callTool({ name: "remote__echo", arguments: { text: "back" } }))).toBe("echo(remote): back");
  }, 15_000);
});

function rawHeaders(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" };
}

async function rawInit(url: string, key: string): Promise<{ sid: string; status: number }> {
  const res = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: rawHeaders(key),
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  await res.body?.cancel();
  return { sid: res.headers.get("mcp-session-id") ?? "", status: res.status };
}

const rawList = (url: string, key: string, sid: string) =>
  fetch(`${url}/mcp`, { method: "POST", headers: { ...rawHeaders(key), "mcp-session-id": sid }, body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }) });

describe("sessions", () => {
  let small: TestGateway;
  beforeAll(async () => {
    small = await startGateway(`
[server.keys.full]
key = "k-full"
[mcp]
gateway_max_sessions = 2
gateway_session_idle_secs = 1
${SERVERS}
`);
    await small.mcp!.whenConnected();
  });
  afterAll(() => small.stop(false));

  test("at the bound a new session displaces the least recently used idle one; busy ones are never displaced", async () => {
    const a = await rawInit(small.url, "k-full");
    const b = await rawInit(small.url, "k-full");
    expect((await rawList(small.url, "k-full", b.sid)).status).toBe(200);
    expect((await rawList(small.url, "k-full", a.sid)).status).toBe(200); // a is now the more recent
    const c = await rawInit(small.url, "k-full");
    expect(c.status).toBe(200);
    expect((await rawList(small.url, "k-full", b.sid)).status).toBe(404);
    expect((await rawList(small.url, "k-full", a.sid)).status).toBe(200);
    // Both remaining sessions hold an event stream open: neither is idle, so a third is refused.
    const streams = await Promise.all([a, c].map((s) => fetch(`${small.url}/mcp`, { headers: { ...rawHeaders("k-full"), "mcp-session-id": s.sid } })));
    for (const s of streams) expect(s.headers.get("content-type")).toStartWith("text/event-stream");
    const refused = await rawInit(small.url, "k-full");
    expect(refused.status).toBe(503);
    for (const s of streams) await s.body?.cancel();
    // Streams ended: the sessions go idle and are closed after gateway_session_idle_secs.
    await waitFor(() => small.mcpGateway!.sessionCount === 0, "idle sessions closed", 4000);
    expect((await rawList(small.url, "k-full", a.sid)).status).toBe(404);
  });

  test("DELETE ends a session; requests without one (other than initialize) are a 400", async () => {
    const s = await rawInit(small.url, "k-full");
    const del = await fetch(`${small.url}/mcp`, { method: "DELETE", headers: { ...rawHeaders("k-full"), "mcp-session-id": s.sid } });
    expect(del.status).toBe(200);
    expect((await rawList(small.url, "k-full", s.sid)).status).toBe(404);
    const none = await fetch(`${small.url}/mcp`, { method: "POST", headers: rawHeaders("k-full"), body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
    expect(none.status).toBe(400);
    expect(((await none.json()) as any).error.message).toContain("Mcp-Session-Id");
    const bad = await fetch(`${small.url}/mcp`, { method: "POST", headers: rawHeaders("k-full"), body: "{not json" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe(-32700);
  });
});

test("without MCP servers /mcp answers a clear JSON-RPC error", async () => {
  const bare = await startGateway(`
[providers.mock]
type = "mock"
`);
  try {
    const res = await fetch(`${bare.url}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(404);
    const body: any = await res.json();
    expect(body.jsonrpc).toBe("2.0");
    expect(body.error.message).toContain("no MCP servers configured");
    expect(await rejection(connect(undefined, `${bare.url}/mcp`))).toBeInstanceOf(Error);
  } finally {
    await bare.stop(false);
  }
});
