// GET /v1/mcp/tools and POST /v1/mcp/tools/call: the MCP tools the gateway offers, and running one directly (how a
// client approves a call it got back under require_approval "always"). A key's `mcp_servers` / `mcp_tools` limit both;
// a call counts in the key's rpm.
import { Type as T, type Static } from "@sinclair/typebox";
import type { McpConfig } from "../config/schema.ts";
import { AlloyError, asAlloyError } from "../errors.ts";
import { mcpToolAllowed, type KeyRule } from "../governance/keylimits.ts";
import type { McpManager } from "../mcp/servers.ts";
import type { GatewayAuth } from "./auth.ts";
import { simpleRecord, type RequestObserver } from "../observability/access.ts";
import type { Tracing } from "../observability/tracing.ts";
import { ROUTES } from "../routes.ts";
import { readJsonBody } from "./body.ts";
import { errorResponse } from "./errors.ts";
import { json } from "./json.ts";
import { LazyCheck } from "../util/lazy-check.ts";

export const ToolCallBody = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 256 }),
    arguments: T.Optional(T.Union([T.Record(T.String(), T.Unknown()), T.Null()])),
  },
  { additionalProperties: true },
);
export type ToolCallBody = Static<typeof ToolCallBody>;
const checkBody = new LazyCheck(ToolCallBody);

export interface McpRouteDeps {
  mcp: McpManager | undefined;
  config: McpConfig;
  maxBodySize: number;
  /** server.read_timeout_secs in ms: a trickled body is cut off here as on the chat route. */
  readTimeoutMs: number;
  observer: RequestObserver;
  auth: GatewayAuth;
  tracing?: Tracing;
}

/** A 403 unless the key may call this tool (tools it may not see are refused before any server is asked). */
export function checkTool(caller: KeyRule | undefined, tool: { name: string; server: string }): void {
  if (mcpToolAllowed(caller, tool)) return;
  throw new AlloyError("permission", `The API key '${caller!.label}' is not allowed to use the MCP tool '${tool.name}'`, {
    param: "name",
    code: "tool_not_allowed",
  });
}

export function mcpRoutes({ mcp, config, maxBodySize, readTimeoutMs, observer, auth, tracing }: McpRouteDeps) {
  const traced = tracing?.enabled ? tracing : undefined;
  return {
    list(requestId: string, caller: KeyRule | undefined): Response {
      const data = (mcp?.tools() ?? []).filter((t) => mcpToolAllowed(caller, t)).map((t) => ({ name: t.name, server: t.server, description: t.description ?? null, input_schema: t.inputSchema }));
      return json({ object: "list", data }, requestId);
    },

    async call(request: Request, requestId: string, caller: KeyRule | undefined): Promise<Response> {
      const start = performance.now();
      const trace = traced?.request(request, ROUTES.mcpToolCall, requestId, start);
      let res: Response;
      let err: AlloyError | undefined;
      let release = () => {};
      try {
        const body = await readJsonBody(request, maxBodySize, { timeoutMs: readTimeoutMs });
        if (!checkBody.Check(body)) {
          const first = checkBody.Errors(body).First();
          const param = first?.path.split("/").filter(Boolean).join(".") || null;
          throw new AlloyError("bad_request", `Invalid tool call body${param ? ` at '${param}'` : ""}: expected {"name": string, "arguments": object}`, { param });
        }
        const tool = mcp?.lookup(body.name);
        if (!mcp || !tool) throw new AlloyError("not_found", `Unknown MCP tool '${body.name}'`, { code: "tool_not_found", param: "name" });
        checkTool(caller, tool);
        release = await auth.admit(caller);
        const result = await mcp.call(body.name, body.arguments ?? {}, {
          signal: request.signal,
          timeoutMs: config.tool_timeout_secs * 1000,
          requestId,
          trace,
        });
        res = json(
          { content: result.content, isError: result.isError === true, ...(result.structuredContent ? { structuredContent: result.structuredContent } : {}) },
          requestId,
        );
      } catch (e) {
        err = asAlloyError(e);
        // A body refused part-way (too large, too slow) is not drained: the connection closes with the answer.
        res = errorResponse(err, requestId, err.status === 408 || err.status === 413 ? { connection: "close" } : undefined);
      } finally {
        release();
      }
      const rec = simpleRecord(requestId, "POST", "/v1/mcp/tools/call", res.status, performance.now() - start);
      if (caller) rec.key = caller.label;
      if (err) Object.assign(rec, { error: err.kind, errorMessage: err.message });
      observer.end(rec, trace ? undefined : request);
      trace?.end(rec);
      return res;
    },
  };
}
