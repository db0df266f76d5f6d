// An MCP tool result → the text the model reads as the tool message. Models take text; other content kinds are
// described rather than dropped so the model knows something came back.
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

export function resultText(result: CallToolResult): string {
  const parts: string[] = [];
  for (const c of result.content ?? []) {
    switch (c.type) {
      case "text":
        parts.push(c.text);
        break;
      case "image":
      case "audio":
        parts.push(`[${c.type} ${c.mimeType}, ${c.data.length} base64 chars]`);
        break;
      case "resource":
        parts.push("text" in c.resource ? c.resource.text : `[resource ${c.resource.uri}]`);
        break;
      case "resource_link":
        parts.push(`[resource ${c.uri}${c.name ? ` (${c.name})` : ""}]`);
        break;
    }
  }
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent));
  const text = parts.join("\n");
  return result.isError ? `Tool error: ${text || "the tool reported an error without details"}` : text;
}
