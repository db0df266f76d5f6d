// /mcp: Alloy as one MCP server (streamable HTTP) for every MCP server it connects to. This file is the HTTP edge —
// the body read within the gateway's limits, JSON-RPC errors for what never reaches a session, the access record;
// sessions and MCP handling are src/mcp/gateway.ts (loaded, with the MCP SDK, only when MCP servers are configured).
import { asAlloyError, type AlloyError } from "../errors.ts";
import type { KeyRule } from "../governance/keylimits.ts";
import type { McpGateway } from "../mcp/gateway.ts";
import { RPC_PARSE_ERROR, RPC_SERVER_ERROR, rpcError } from "../mcp/rpc.ts";
import { simpleRecord, type RequestObserver } from "../observability/access.ts";
import { ROUTES } from "../routes.ts";
import { readJsonBody } from "./body.ts";

export interface McpGatewayRouteDeps {
  /** Undefined when no MCP server is configured: /mcp then says so. */
  gateway: McpGateway | undefined;
  maxBodySize: number;
  readTimeoutMs: number;
  observer: RequestObserver;
}

const NOT_CONFIGURED =
  "Alloy has no MCP servers configured, so /mcp has nothing to serve: add [mcp.servers.<name>] to the config (see docs/mcp.md)";

export function mcpGatewayRoute({ gateway, maxBodySize, readTimeoutMs, observer }: McpGatewayRouteDeps) {
  return async function handle(request: Request, requestId: string, caller: KeyRule | undefined): Promise<Response> {
    const start = performance.now();
    let res: Response;
    let err: AlloyError | undefined;
    if (!gateway) res = rpcError(404, RPC_SERVER_ERROR, NOT_CONFIGURED);
    else {
      let body: unknown;
      try {
        if (request.method === "POST") body = await readJsonBody(request, maxBodySize, { timeoutMs: readTimeoutMs });
      } catch (e) {
        err = asAlloyError(e);
        // Too large, too slow, wrong type: the HTTP status says which; a body that is not JSON is JSON-RPC's parse error.
        const status = err.status === 408 || err.status === 413 || err.status === 415 ? err.status : 400;
        res = rpcError(status, status === 400 ? RPC_PARSE_ERROR : RPC_SERVER_ERROR, err.publicMessage, status === 400 ? {} : { connection: "close" });
      }
      res ??= await gateway.handle(request, body, caller);
    }
    res.headers.set("x-request-id", requestId);
    const rec = simpleRecord(requestId, request.method, ROUTES.mcp, res.status, performance.now() - start);
    if (caller) rec.key = caller.label;
    if (err) Object.assign(rec, { error: err.kind, errorMessage: err.message });
    observer.end(rec);
    return res;
  };
}
