import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import type { McpToolInfo } from "../../src/mcp/servers.ts";
import { planMcpTools, type ToolSource } from "../../src/mcp/tools.ts";
import type { ChatRequest } from "../../src/openai/schema.ts";

const tool = (server: string, name: string): McpToolInfo => ({
  name: `${server}__${name}`,
  server,
  tool: name,
  description: `${name} on ${server}`,
  inputSchema: { type: "object", properties: {} },
});

const TOOLS: Record<string, McpToolInfo[]> = {
  fs: [tool("fs", "read_file"), tool("fs", "write_file")],
  gh: [tool("gh", "create_issue")],
  down: [],
};

const source: ToolSource = {
  has: (s) => s in TOOLS,
  known: (s) => s !== "down",
  tools: (s) => TOOLS[s] ?? [],
  readiness: () => ["mcp server 'down' is reconnecting: connect ECONNREFUSED"],
};

const base = (tools?: unknown[], extra: Partial<ChatRequest> = {}): ChatRequest =>
  ({ model: "m", messages: [{ role: "user", content: "hi" }], ...(tools ? { tools } : {}), ...extra }) as ChatRequest;
const mine = { type: "function", function: { name: "mine", parameters: {} } };
const names = (req: ChatRequest) => (req.tools ?? []).map((t) => (t.type === "function" ? t.function.name : `mcp:${t.server_label}`));

function thrown(f: () => unknown): AlloyError {
  try {
    f();
  } catch (e) {
    return e as AlloyError;
  }
  throw new Error("expected a throw");
}

describe("planMcpTools", () => {
  test("no MCP entry and no alias servers: nothing to plan", () => {
    expect(planMcpTools(base([mine]), undefined, source)).toBeUndefined();
    expect(planMcpTools(base(), [], source)).toBeUndefined();
  });

  test("an mcp entry becomes namespaced function tools after the client's own; the entry is gone", () => {
    const plan = planMcpTools(base([{ type: "mcp", server_label: "fs" }, mine]), undefined, source)!;
    expect(names(plan.req)).toEqual(["mine", "fs__read_file", "fs__write_file"]);
    expect(plan.req.tools![1]).toEqual({
      type: "function",
      function: { name: "fs__read_file", description: "read_file on fs", parameters: { type: "object", properties: {} } },
    });
    expect([...plan.auto.keys()]).toEqual(["fs__read_file", "fs__write_file"]);
    expect(plan.approval.size).toBe(0);
  });

  test("allowed_tools filters by the server's names or the namespaced ones", () => {
    const a = planMcpTools(base([{ type: "mcp", server_label: "fs", allowed_tools: ["read_file"] }]), undefined, source)!;
    expect(names(a.req)).toEqual(["fs__read_file"]);
    const b = planMcpTools(base([{ type: "mcp", server_label: "fs", allowed_tools: ["fs__write_file"] }]), undefined, source)!;
    expect(names(b.req)).toEqual(["fs__write_file"]);
  });

  test('require_approval "always" offers the tools without running them', () => {
    const plan = planMcpTools(base([{ type: "mcp", server_label: "gh", require_approval: "always" }]), undefined, source)!;
    expect(names(plan.req)).toEqual(["gh__create_issue"]);
    expect(plan.auto.size).toBe(0);
    expect([...plan.approval]).toEqual(["gh__create_issue"]);
  });

  test("an unknown server_label is a 400 naming the entry", () => {
    const e = thrown(() => planMcpTools(base([mine, { type: "mcp", server_label: "nope" }]), undefined, source));
    expect(e.status).toBe(400);
    expect(e.param).toBe("tools[1].server_label");
    expect(e.message).toContain("'nope'");
  });

  test("a server never reached is a 503 with the reason", () => {
    const e = thrown(() => planMcpTools(base([{ type: "mcp", server_label: "down" }]), undefined, source));
    expect(e.status).toBe(503);
    expect(e.message).toContain("ECONNREFUSED");
  });

  test("alias servers add their tools; an explicit entry for the same server wins", () => {
    const plan = planMcpTools(base([mine]), ["fs", "gh"], source)!;
    expect(names(plan.req)).toEqual(["mine", "fs__read_file", "fs__write_file", "gh__create_issue"]);
    const explicit = planMcpTools(base([{ type: "mcp", server_label: "gh", require_approval: "always" }]), ["gh"], source)!;
    expect([...explicit.approval]).toEqual(["gh__create_issue"]);
    expect(explicit.auto.size).toBe(0);
  });

  test("a client tool named like an MCP tool is a 400; n > 1 is a 400", () => {
    const clash = { type: "function", function: { name: "fs__read_file" } };
    expect(thrown(() => planMcpTools(base([clash, { type: "mcp", server_label: "fs" }]), undefined, source)).status).toBe(400);
    expect(thrown(() => planMcpTools(base([{ type: "mcp", server_label: "fs" }], { n: 2 }), undefined, source)).param).toBe("n");
  });

  test("when every tool is filtered out, tools and tool_choice are dropped", () => {
    const plan = planMcpTools(base([{ type: "mcp", server_label: "fs", allowed_tools: [] }], { tool_choice: "auto" }), undefined, source)!;
    expect(plan.req.tools).toBeUndefined();
    expect(plan.req.tool_choice).toBeUndefined();
  });
});
