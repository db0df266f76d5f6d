// Claude Code (the real CLI, print mode) using Alloy twice: as its model (ANTHROPIC_BASE_URL → /v1/messages, the
// mock provider scripted by a `[mock:tool NAME {args}]` directive) and as its one MCP server (/mcp, Bearer key). The
// model asks for `mcp__alloy__local__echo`; Claude Code lists it through /mcp, calls it there, and the gateway runs it
// on the stdio server behind it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startGateway, type TestGateway } from "../helpers/gateway.ts";

const STDIO = join(import.meta.dir, "..", "mocks", "mcp", "stdio-server.ts");
const CLAUDE = join(ROOT, "node_modules", ".bin", "claude");

let gw: TestGateway;
let home: string;

beforeAll(async () => {
  gw = await startGateway(`
[server.keys.agent]
key = "k-agent"
mcp_tools = ["local__echo"]
[providers.mock]
type = "mock"
[models."claude-*"]
targets = ["mock/m"]
[mcp.servers.local]
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(STDIO)}]
env = { MOCK_LABEL = "local" }
`);
  await gw.mcp!.whenConnected();
  home = mkdtempSync(join(tmpdir(), "alloy-claude-"));
});

afterAll(async () => {
  await gw.stop(false);
  rmSync(home, { recursive: true, force: true });
});

test("Claude Code lists and calls a tool through /mcp, driven by the mock model", async () => {
  const mcpConfig = join(home, "mcp.json");
  writeFileSync(mcpConfig, JSON.stringify({ mcpServers: { alloy: { type: "http", url: `${gw.url}/mcp`, headers: { Authorization: "Bearer k-agent" } } } }));
  const proc = Bun.spawn(
    [
      CLAUDE,
      "-p",
      'Use the tool. [mock:tool mcp__alloy__local__echo {"text":"from claude code"}]',
      "--mcp-config",
      mcpConfig,
      "--strict-mcp-config",
      "--allowedTools",
      "mcp__alloy__local__echo",
      "--model",
      "claude-sonnet-4-5",
      "--output-format",
      "json",
    ],
    {
      cwd: home,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: home,
        ANTHROPIC_BASE_URL: gw.url,
        ANTHROPIC_API_KEY: "k-agent",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        DISABLE_TELEMETRY: "1",
        DISABLE_AUTOUPDATER: "1",
        // MCP tools deferred behind ToolSearch would not be in the request the mock model sees.
        ENABLE_TOOL_SEARCH: "false",
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const kill = setTimeout(() => proc.kill(), 50_000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(kill);
  if (code !== 0) throw new Error(`claude exited ${code}: ${out}\n${err}`);
  const result = JSON.parse(out);
  expect(result.is_error).toBe(false);
  // The mock answers with the tool's result once Claude Code has sent it back: proof the call went through /mcp.
  // (Claude Code appends its own reminders to a tool result.)
  expect(result.result).toStartWith("Tool result: echo(local): from claude code");
  const mcpLines = gw.logs.filter((l) => l.includes('"route":"/mcp"'));
  expect(mcpLines.length).toBeGreaterThan(0);
  expect(mcpLines.every((l) => l.includes('"key":"agent"'))).toBe(true);
  expect(gw.logs.some((l) => l.includes('"msg":"mcp tool call"') && l.includes('"tool":"echo"'))).toBe(true);
}, 60_000);
