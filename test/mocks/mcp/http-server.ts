// An MCP server over Streamable HTTP (stateful sessions), with the SDK's StreamableHTTPServerTransport on node:http.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { MockHttpMcp } from "./sse-server.ts";
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
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/mcp`,
    port: actual,
    headers,
    async close() {
      for (const t of transports.values()) await t.close().catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
