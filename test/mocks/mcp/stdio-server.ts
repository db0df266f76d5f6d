// A stdio MCP server: `bun test/mocks/mcp/stdio-server.ts`. MOCK_LABEL names it; MOCK_MODE picks a misbehaviour:
// "exit" dies at startup, "hang-init" never answers the handshake. The `crash` tool exits mid-call.
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createMockServer } from "./tools.ts";

const label = process.env.MOCK_LABEL ?? "stdio";
const mode = process.env.MOCK_MODE ?? "normal";

if (mode === "exit") {
  console.error("mock stdio server: refusing to start (MOCK_MODE=exit)");
  process.exit(2);
} else if (mode === "hang-init") {
  // Keep the process alive and stdin drained, but never speak MCP.
  process.stdin.on("data", () => {});
} else {
  const server = createMockServer(label, { onCrash: () => process.exit(3) });
  await server.connect(new StdioServerTransport());
  console.error(`mock stdio server ${label} ready, pid ${process.pid}`);
}
