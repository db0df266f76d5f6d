// An MCP server over the (legacy) HTTP+SSE transport, with the SDK's SSEServerTransport on node:http.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { createMockServer } from "./tools.ts";

export interface MockHttpMcp {
  url: string;
  port: number;
  /** Headers of every request received (to check configured headers arrive). */
  headers: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** Listen on loopback and hand back the mock's address, what it saw, and a close that ends every session. */
export async function listenMcp(
  server: Server,
  port: number,
  path: string,
  headers: IncomingHttpHeaders[],
  transports: Map<string, { close(): Promise<void> }>,
): Promise<MockHttpMcp> {
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}${path}`,
    port: actual,
    headers,
    async close() {
      for (const t of transports.values()) await t.close().catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function startSseMcp(label: string, port = 0): Promise<MockHttpMcp> {
  const transports = new Map<string, SSEServerTransport>();
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer(async (req, res) => {
    headers.push(req.headers);
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET" && url.pathname === "/sse") {
      const t = new SSEServerTransport("/messages", res);
      transports.set(t.sessionId, t);
      res.on("close", () => transports.delete(t.sessionId));
      await createMockServer(label).connect(t);
      return;
    }
    if (req.method === "POST" && url.pathname === "/messages") {
      const t = transports.get(url.searchParams.get("sessionId") ?? "");
      if (!t) return void res.writeHead(404).end("unknown session");
      return void (await t.handlePostMessage(req, res));
    }
    res.writeHead(404).end();
  });
  return listenMcp(server, port, "/sse", headers, transports);
}
