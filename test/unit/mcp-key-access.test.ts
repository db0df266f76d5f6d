// A key's mcp_servers / mcp_tools (keylimits.ts), as planning in chat applies them (tools.ts via keyAccess), and the
// alloy://<server>/<uri> names /mcp gives resources (rpc-free helpers of src/mcp/gateway.ts's mapping).
import { describe, expect, test } from "bun:test";
import { mcpServerAllowed, mcpToolAllowed, type KeyRule } from "../../src/governance/keylimits.ts";
import { keyAccess } from "../../src/mcp/governed-loop.ts";
import { gatewayUri, parseGatewayUri } from "../../src/mcp/gateway.ts";
import type { McpToolInfo } from "../../src/mcp/servers.ts";
import { planMcpTools, type ToolSource } from "../../src/mcp/tools.ts";
import type { ChatRequest } from "../../src/openai/schema.ts";

const tool = (server: string, name: string): McpToolInfo => ({ name: `${server}__${name}`, server, tool: name, inputSchema: { type: "object" } });
const TOOLS: Record<string, McpToolInfo[]> = { fs: [tool("fs", "read_file"), tool("fs", "write_file")], gh: [tool("gh", "create_issue")] };
const source: ToolSource = { has: (s) => s in TOOLS, known: () => true, tools: (s) => TOOLS[s] ?? [], readiness: () => [] };
const req = (tools: unknown[]): ChatRequest => ({ model: "m", messages: [{ role: "user", content: "hi" }], tools }) as ChatRequest;
const offered = (r: ChatRequest) => (r.tools ?? []).map((t) => (t.type === "function" ? t.function.name : ""));

const open: KeyRule = { label: "open" };
const fsOnly: KeyRule = { label: "fs", mcpServers: ["fs"] };
const readers: KeyRule = { label: "readers", mcpTools: ["fs__read_*", "gh__create_issue"] };
const both: KeyRule = { label: "both", mcpServers: ["gh"], mcpTools: ["fs__read_file", "gh__*"] };

describe("mcpToolAllowed / mcpServerAllowed", () => {
  test("no lists (or no key) allow everything", () => {
    for (const rule of [undefined, open]) {
      expect(mcpServerAllowed(rule, "gh")).toBe(true);
      expect(mcpToolAllowed(rule, tool("gh", "create_issue"))).toBe(true);
    }
  });

  test("mcp_servers limits servers; mcp_tools names namespaced tools, a trailing * a prefix; both must allow", () => {
    expect(mcpToolAllowed(fsOnly, tool("fs", "write_file"))).toBe(true);
    expect(mcpToolAllowed(fsOnly, tool("gh", "create_issue"))).toBe(false);
    expect(mcpServerAllowed(readers, "gh")).toBe(true);
    expect(mcpToolAllowed(readers, tool("fs", "read_file"))).toBe(true);
    expect(mcpToolAllowed(readers, tool("fs", "write_file"))).toBe(false);
    // The tool's own name is not enough: lists use the names GET /v1/mcp/tools shows.
    expect(mcpToolAllowed({ label: "x", mcpTools: ["read_file"] }, tool("fs", "read_file"))).toBe(false);
    expect(mcpToolAllowed(both, tool("fs", "read_file"))).toBe(false);
    expect(mcpToolAllowed(both, tool("gh", "create_issue"))).toBe(true);
  });
});

describe("chat planning under a key", () => {
  test("a key without lists changes nothing", () => {
    expect(keyAccess(open)).toBeUndefined();
    expect(keyAccess(undefined)).toBeUndefined();
  });

  test("a server_label the key may not use is a 403 naming it", () => {
    let err: any;
    try {
      planMcpTools(req([{ type: "mcp", server_label: "gh" }]), undefined, source, keyAccess(fsOnly));
    } catch (e) {
      err = e;
    }
    expect(err.status).toBe(403);
    expect(err.code).toBe("mcp_server_not_allowed");
    expect(err.param).toBe("tools[0].server_label");
  });

  test("tools outside mcp_tools are not offered; an alias's forbidden servers are left out", () => {
    const plan = planMcpTools(req([{ type: "mcp", server_label: "fs" }]), undefined, source, keyAccess(readers))!;
    expect(offered(plan.req)).toEqual(["fs__read_file"]);
    expect([...plan.auto.keys()]).toEqual(["fs__read_file"]);
    const alias = planMcpTools(req([]), ["fs", "gh"], source, keyAccess(fsOnly))!;
    expect(offered(alias.req)).toEqual(["fs__read_file", "fs__write_file"]);
    // Every alias server forbidden: the request is an ordinary one.
    expect(planMcpTools(req([]), ["gh"], source, keyAccess(fsOnly))).toBeUndefined();
  });
});

describe("resource URIs on /mcp", () => {
  test("alloy://<server>/<uri> round-trips, server names escaped", () => {
    for (const [server, uri] of [["fs", "file:///data/a b.txt"], ["my server/x", "mock://r/notes/{id}"], ["s", ""]]) {
      const g = gatewayUri(server!, uri!);
      expect(g.startsWith("alloy://")).toBe(true);
      expect(parseGatewayUri(g)).toEqual({ server: server!, uri: uri! });
    }
    expect(gatewayUri("fs", "file:///a")).toBe("alloy://fs/file:///a");
  });

  test("anything else is not a gateway URI", () => {
    for (const uri of ["file:///a", "alloy://fs", "alloy://%E0%A4%A/x", "ALLOY://fs/x"]) expect(parseGatewayUri(uri)).toBeUndefined();
  });
});
