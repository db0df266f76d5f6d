// The MCP manager against real MCP servers (the SDK's own server classes) over stdio, SSE and streamable HTTP:
// connect, list, call, list_changed, crash and restart, hang, a server that never starts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { McpConfig } from "../../src/config/schema.ts";
import { AlloyError } from "../../src/errors.ts";
import { McpManager, type ServerState } from "../../src/mcp/servers.ts";
import { createLogger } from "../../src/observability/log.ts";
import { startStreamableMcp } from "../mocks/mcp/http-server.ts";
import { startSseMcp, type MockHttpMcp } from "../mocks/mcp/sse-server.ts";

const STDIO = join(import.meta.dir, "..", "mocks", "mcp", "stdio-server.ts");

function stdio(label: string, mode = "normal") {
  return { transport: "stdio" as const, command: process.execPath, args: [STDIO], env: { MOCK_LABEL: label, MOCK_MODE: mode } };
}

function nextState(m: McpManager, server: string, state: ServerState): Promise<void> {
  return new Promise((resolve) => {
    const on = (s: string, st: ServerState) => {
      if (s === server && st === state) {
        m.events.off("state", on);
        resolve();
      }
    };
    m.events.on("state", on);
  });
}

function nextTools(m: McpManager, server: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (s: string) => {
      if (s === server) {
        m.events.off("tools", on);
        resolve();
      }
    };
    m.events.on("tools", on);
  });
}

const text = (r: { content: unknown }) => (r.content as Array<{ type: string; text: string }>).map((c) => c.text).join("");

let sse: MockHttpMcp;
let http: MockHttpMcp;
let manager: McpManager;
const logs: string[] = [];
const hooks: Array<[string, string, boolean]> = [];

beforeAll(async () => {
  sse = await startSseMcp("sse");
  http = await startStreamableMcp("http");
  const config: McpConfig = {
    max_iterations: 10,
    tool_timeout_secs: 5,
    gateway_max_sessions: 10,
    gateway_session_idle_secs: 60,
    servers: {
      local: stdio("local"),
      events: { transport: "sse", url: sse.url, headers: { authorization: "Bearer sse-secret" } },
      remote: { transport: "streamable-http", url: http.url, headers: { "x-api-key": "http-secret" } },
      broken: stdio("broken", "exit"),
      mute: stdio("mute", "hang-init"),
    },
  };
  manager = new McpManager(config, {
    log: createLogger({ level: "debug", json: true, write: (l) => logs.push(l) }),
    onToolCall: (server, tool, _ms, isError) => hooks.push([server, tool, isError]),
    backoff: { baseMs: 20, maxMs: 200 },
    pingIntervalMs: 200,
  });
  manager.start();
});

afterAll(async () => {
  await manager.close();
  await sse.close();
  await http.close();
});

describe("MCP manager", () => {
  test("start() does not wait; all three transports connect and list namespaced tools", async () => {
    expect(manager.readiness().length).toBeGreaterThan(0);
    await manager.whenConnected(["local", "events", "remote"]);
    const names = manager.tools().map((t) => t.name);
    for (const s of ["local", "events", "remote"]) expect(names).toContain(`${s}__echo`);
    for (const n of names) expect(n).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    const long = manager.tools("local").find((t) => t.tool.startsWith("summarise_"))!;
    expect(long.name.length).toBe(64);
    const echo = manager.lookup("remote__echo")!;
    expect(echo).toMatchObject({ server: "remote", tool: "echo", description: "Echo the text back" });
    expect(echo.inputSchema).toMatchObject({ type: "object", properties: { text: { type: "string" } } });
  });

  test("calls tools on every transport; configured headers reach remote servers", async () => {
    await manager.whenConnected(["local", "events", "remote"]);
    for (const s of ["local", "events", "remote"]) {
      const r = await manager.call(`${s}__echo`, { text: "hi" }, { timeoutMs: 5000 });
      expect(text(r)).toBe(`echo(${s === "local" ? "local" : s === "events" ? "sse" : "http"}): hi`);
    }
    const add = await manager.call("remote__add", { a: 2, b: 40 }, { timeoutMs: 5000 });
    expect(text(add)).toBe("42");
    expect(sse.headers.some((h) => h.authorization === "Bearer sse-secret")).toBe(true);
    expect(http.headers.some((h) => h["x-api-key"] === "http-secret")).toBe(true);
    expect(hooks).toContainEqual(["remote", "add", false]);
  });

  test("a tool error is a result with isError; the hook sees it", async () => {
    const r = await manager.call("events__fail", {}, { timeoutMs: 5000 });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe("the disk is on fire");
    expect(hooks).toContainEqual(["events", "fail", true]);
  });

  test("a hanging tool is cut by the timeout; an unknown tool is not_found", async () => {
    const err = await manager.call("local__hang", {}, { timeoutMs: 300 }).catch((e) => e);
    expect(err).toBeInstanceOf(AlloyError);
    expect(err.kind).toBe("timeout");
    expect(err.message).toContain("local__hang");
    const missing = await manager.call("nope__tool", {}, { timeoutMs: 300 }).catch((e) => e);
    expect(missing.kind).toBe("not_found");
    // The server is still fine after a cancelled call.
    expect(text(await manager.call("local__add", { a: 1, b: 1 }, { timeoutMs: 5000 }))).toBe("2");
  });

  test("tools/list_changed refreshes the tool list (stdio and streamable HTTP)", async () => {
    for (const s of ["local", "remote"]) {
      const changed = nextTools(manager, s);
      await manager.call(`${s}__add_tool`, { name: "late" }, { timeoutMs: 5000 });
      await changed;
      expect(manager.lookup(`${s}__late`)).toBeDefined();
      expect(text(await manager.call(`${s}__late`, {}, { timeoutMs: 5000 }))).toBe("new tool late");
    }
  });

  test("a stdio server that crashes mid-call fails that call, is restarted, and calls wait for it", async () => {
    const before = text(await manager.call("local__whoami", {}, { timeoutMs: 5000 }));
    const down = nextState(manager, "local", "reconnecting");
    const err = await manager.call("local__crash", {}, { timeoutMs: 5000 }).catch((e) => e);
    expect(err).toBeInstanceOf(AlloyError);
    await down;
    // No waiting here: a call to a reconnecting server waits for it (within the tool timeout).
    const after = text(await manager.call("local__whoami", {}, { timeoutMs: 5000 }));
    expect(after).not.toBe(before);
    expect(logs.some((l) => l.includes("mcp server local disconnected"))).toBe(true);
  });

  test("a streamable HTTP server restarted on the same port is picked up", async () => {
    const before = text(await manager.call("remote__whoami", {}, { timeoutMs: 5000 }));
    const down = nextState(manager, "remote", "reconnecting");
    const port = http.port;
    await http.close();
    await down;
    http = await startStreamableMcp("http", port);
    await manager.whenConnected(["remote"]);
    const after = text(await manager.call("remote__whoami", {}, { timeoutMs: 5000 }));
    expect(after).not.toBe(before);
    expect(after).toStartWith("http ");
  });

  test("an SSE server restarted on the same port is picked up", async () => {
    const before = text(await manager.call("events__whoami", {}, { timeoutMs: 5000 }));
    const down = nextState(manager, "events", "reconnecting");
    const port = sse.port;
    await sse.close();
    await down;
    sse = await startSseMcp("sse", port);
    await manager.whenConnected(["events"]);
    const after = text(await manager.call("events__whoami", {}, { timeoutMs: 5000 }));
    expect(after).not.toBe(before);
    expect(after).toStartWith("sse ");
  });

  test("a server that fails to start is logged and reported, and others are unaffected", async () => {
    if (manager.status().broken!.state !== "reconnecting") await nextState(manager, "broken", "reconnecting");
    expect(manager.status().broken!.state).toBe("reconnecting");
    expect(manager.status().mute!.state).toBe("connecting");
    const reasons = manager.readiness();
    expect(reasons.some((r) => r.startsWith("mcp server 'broken' is reconnecting"))).toBe(true);
    expect(reasons).toContain("mcp server 'mute' is connecting");
    expect(logs.some((l) => l.includes('"level":"warn"') && l.includes("mcp server broken failed to connect"))).toBe(true);
    expect(manager.known("mute")).toBe(false);
    expect(manager.status().local!.state).toBe("connected");
  });
});
