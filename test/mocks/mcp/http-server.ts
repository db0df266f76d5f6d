// An MCP server over Streamable HTTP (stateful sessions), with the SDK's StreamableHTTPServerTransport on node:http.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { listenMcp, type MockHttpMcp } from "./sse-server.ts";
import { createMockServer } from "./tools.ts";

export async function startStreamableMcp(label: string, port = 0): Promise<MockHttpMcp> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer(async (req, res) => {
    headers.push(req.headers);
    const sid = req.headers["mcp-session-id"];
    let t = typeof sid === "string" ? transports.get(sid) : undefined;
    if (!t) {
      if (sid) {
        res.writeHead(404, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }));
      }
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      created.onclose = () => void (created.sessionId && transports.delete(created.sessionId));
      await createMockServer(label).connect(created);
      t = created;
    }
    await t.handleRequest(req, res);
  });
  return listenMcp(server, port, "/mcp", headers, transports);
}
