// `{"type":"mcp",...}` tools entries (and an alias's `mcp_servers`) → ordinary function tools for the model.
// The upstream never sees an `mcp` entry: it gets the client's own function tools plus the expanded MCP ones.
import { AlloyError } from "../errors.ts";
import type { ChatRequest, FunctionTool } from "../openai/schema.ts";
import type { McpToolInfo } from "./servers.ts";

/** What planning needs from the MCP manager. */
export interface ToolSource {
  has(server: string): boolean;
  /** Whether the server's tools are known (connected now, or listed before it went away). */
  known(server: string): boolean;
  tools(server: string): McpToolInfo[];
  readiness(): string[];
}

export interface McpPlan {
  /** The request to send upstream: `mcp` entries replaced by function tools. */
  req: ChatRequest;
  /** MCP tools the gateway runs itself (require_approval "never"), by namespaced name. */
  auto: Map<string, McpToolInfo>;
  /** MCP tools offered to the model whose calls go back to the client (require_approval "always"). */
  approval: Set<string>;
}

type Entry = NonNullable<ChatRequest["tools"]>[number];

/** What the caller's key may use (its `mcp_servers` / `mcp_tools`); absent means everything. */
export interface ToolAccess {
  server(server: string): boolean;
  tool(t: McpToolInfo): boolean;
}

function asFunctionTool(t: McpToolInfo): FunctionTool {
  return {
    type: "function",
    function: {
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      parameters: t.inputSchema,
    },
  };
}

/**
 * Expand MCP tools for one request. Returns undefined when the request involves no MCP server at all (the normal
 * single-dispatch path applies). Throws a 400 for an unknown `server_label`, a 503 for a server never reached yet.
 */
export function planMcpTools(req: ChatRequest, aliasServers: string[] | undefined, source: ToolSource, access?: ToolAccess): McpPlan | undefined {
  const entries = req.tools ?? [];
  const requested: Array<{ server: string; allowed?: string[]; approval: boolean; param: string }> = [];
  const clientTools: FunctionTool[] = [];
  entries.forEach((t: Entry, i) => {
    if (t.type === "mcp") {
      const param = `tools[${i}].server_label`;
      if (!source.has(t.server_label))
        throw new AlloyError("bad_request", `Unknown MCP server_label '${t.server_label}' in tools[${i}]; configure it under [mcp.servers]`, { param });
      if (access && !access.server(t.server_label))
        throw new AlloyError("permission", `This API key may not use the MCP server '${t.server_label}' (tools[${i}])`, { param, code: "mcp_server_not_allowed" });
      requested.push({ server: t.server_label, allowed: t.allowed_tools, approval: t.require_approval === "always", param });
    } else clientTools.push(t);
  });
  // The alias's servers apply unless the request itself says how to use that server.
  // An alias's server the key may not use is left out, as a model the key cannot see would be.
  for (const server of aliasServers ?? [])
    if (access?.server(server) !== false && !requested.some((r) => r.server === server)) requested.push({ server, approval: false, param: "model" });
  if (requested.length === 0) return undefined;
  // The loop follows one conversation; several choices would each want their own tool rounds.
  if ((req.n ?? 1) > 1) throw new AlloyError("bad_request", "n > 1 is not supported together with MCP tools", { param: "n" });

  const auto = new Map<string, McpToolInfo>();
  const approval = new Set<string>();
  const offered: FunctionTool[] = [];
  const clientNames = new Set(clientTools.map((t) => t.function.name));
  for (const r of requested) {
    if (!source.known(r.server)) {
      const why = source.readiness().find((s) => s.includes(`'${r.server}'`)) ?? `mcp server '${r.server}' is not connected`;
      throw new AlloyError("unavailable", `MCP tools unavailable: ${why}`, { retryAfterMs: 1000 });
    }
    for (const t of source.tools(r.server)) {
      // allowed_tools names the server's own tool names (as OpenAI's remote MCP does); namespaced names work too.
      if (r.allowed && !r.allowed.includes(t.tool) && !r.allowed.includes(t.name)) continue;
      if (access && !access.tool(t)) continue;
      if (auto.has(t.name) || approval.has(t.name)) continue;
      if (clientNames.has(t.name))
        throw new AlloyError("bad_request", `Function tool '${t.name}' clashes with an MCP tool of server '${r.server}'; rename it`, { param: "tools" });
      if (r.approval) approval.add(t.name);
      else auto.set(t.name, t);
      offered.push(asFunctionTool(t));
    }
  }
  const tools = [...clientTools, ...offered];
  const { tools: _drop, ...rest } = req;
  const out: ChatRequest = tools.length ? { ...rest, tools } : rest;
  // No tools left (everything filtered out): tool_choice would be rejected upstream.
  if (!tools.length) {
    delete out.tool_choice;
    delete out.parallel_tool_calls;
  }
  return { req: out, auto, approval };
}
