// The tools every mock MCP server offers, built with the SDK's own McpServer so the wire format is the real one.
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

export const LONG_TOOL = "summarise_the_entire_contents_of_a_very_large_document_collection";

let instances = 0;

export function createMockServer(label: string, opts: { onCrash?: () => void } = {}): McpServer {
  const instance = ++instances;
  const server = new McpServer({ name: `mock-${label}`, version: "1.0.0" });
  server.registerTool("echo", { description: "Echo the text back", inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: "text", text: `echo(${label}): ${text}` }],
  }));
  server.registerTool("add", { description: "Add two numbers", inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => ({
    content: [{ type: "text", text: String(a + b) }],
  }));
  server.registerTool("fail", { description: "Always fails" }, async () => ({
    content: [{ type: "text", text: "the disk is on fire" }],
    isError: true,
  }));
  server.registerTool("whoami", { description: "Which server process answers" }, async () => ({
    content: [{ type: "text", text: `${label} pid=${process.pid} instance=${instance}` }],
  }));
  // Never answers; ends only when the caller cancels (tool timeout, client gone).
  server.registerTool("hang", { description: "Never finishes" }, (extra) =>
    new Promise<CallToolResult>((resolve) =>
      extra.signal.addEventListener("abort", () => resolve({ content: [{ type: "text", text: "cancelled" }] }), { once: true }),
    ),
  );
  server.registerTool(LONG_TOOL, { description: "A tool with a long name" }, async () => ({ content: [{ type: "text", text: "long ok" }] }));
  // Registering a tool after connect makes McpServer send notifications/tools/list_changed.
  server.registerTool("add_tool", { description: "Register a new tool", inputSchema: { name: z.string() } }, async ({ name }) => {
    server.registerTool(name, { description: `Added at runtime: ${name}` }, async () => ({ content: [{ type: "text", text: `new tool ${name}` }] }));
    return { content: [{ type: "text", text: `added ${name}` }] };
  });
  // A prompt, a fixed resource and a template, for /mcp's prompts/* and resources/*.
  server.registerPrompt("greet", { description: "Greet someone", argsSchema: { who: z.string() } }, ({ who }) => ({
    messages: [{ role: "user", content: { type: "text", text: `Say hello to ${who} (from ${label})` } }],
  }));
  server.registerResource("readme", `mock://${label}/readme`, { description: "The server's readme", mimeType: "text/plain" }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: `readme of ${label}` }],
  }));
  server.registerResource("note", new ResourceTemplate(`mock://${label}/notes/{id}`, { list: undefined }), { description: "A note by id" }, (uri, { id }) => ({
    contents: [{ uri: uri.href, text: `note ${String(id)} of ${label}` }],
  }));
  if (opts.onCrash) {
    const crash = opts.onCrash;
    server.registerTool("crash", { description: "Kills the server mid-call" }, async () => {
      crash();
      return { content: [{ type: "text", text: "unreachable" }] };
    });
  }
  return server;
}
