// JSON-RPC error answers for /mcp requests refused before they reach a session. No SDK here: the HTTP side uses it
// while the MCP SDK may not be loaded at all.

/** Not one of JSON-RPC's own codes: the MCP SDK's transports use it for HTTP-level refusals. */
export const RPC_SERVER_ERROR = -32000;
export const RPC_PARSE_ERROR = -32700;
/** What the SDK's transports answer for an unknown or closed session (with HTTP 404). */
export const RPC_SESSION_NOT_FOUND = -32001;

export function rpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
