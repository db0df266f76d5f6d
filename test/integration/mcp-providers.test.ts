// The MCP tool loop on every translating provider: the official `openai` client → Alloy → a mock Anthropic Messages
// API or a mock Bedrock Converse endpoint that asks for an MCP tool and then answers with what the tool returned, with
// a real MCP server (stdio) running the tool. Plain and streamed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import OpenAI from "openai";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { message, reply, startAnthropicMock, type AnthropicMock } from "../mocks/anthropic-upstream.ts";
import { converseBody, eventStreamResponse, jsonResponse, startBedrockMock, textFrames, toolFrames, type BedrockMock } from "../mocks/bedrock-upstream.ts";

const STDIO = join(import.meta.dir, "..", "mocks", "mcp", "stdio-server.ts");
const TOOL = "local__echo"; // the stdio server's `echo`, as the model sees it
const ACCESS_KEY_ID = "AKIAMCPTESTKEY000000";
const REGION = "us-west-2";

const textOf = (content: unknown): string =>
  typeof content === "string" ? content : Array.isArray(content) ? content.map((b: any) => b.text ?? textOf(b.content)).join("") : "";

let anthropic: AnthropicMock;
let bedrock: BedrockMock;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  // Claude: ask for the tool until a tool_result comes back, then say what it returned.
  anthropic = startAnthropicMock({
    script: (call) => {
      const b = call.body;
      const last = b.messages[b.messages.length - 1];
      const result = Array.isArray(last.content) ? last.content.find((x: any) => x.type === "tool_result") : undefined;
      if (result) return reply(call, message(b.model, [{ type: "text", text: `Tool said: ${textOf(result.content)}` }]));
      if (!b.tools?.some((t: any) => t.name === TOOL)) return reply(call, message(b.model, [{ type: "text", text: "no MCP tool offered" }]));
      return reply(call, message(b.model, [{ type: "text", text: "Let me check." }, { type: "tool_use", id: "toolu_mcp1", name: TOOL, input: { text: "from claude" } }]));
    },
  });
  // Bedrock: the same conversation in Converse shapes.
  bedrock = startBedrockMock({
    accessKeyId: ACCESS_KEY_ID,
    region: REGION,
    script: (call) => {
      const b = call.body;
      const stream = call.operation === "converse-stream";
      const last = b.messages[b.messages.length - 1];
      const result = last.content.find((x: any) => x.toolResult)?.toolResult;
      if (result) {
        const text = `Tool said: ${textOf(result.content)}`;
        return stream ? eventStreamResponse(textFrames(text.split(/(?= )/))) : jsonResponse(converseBody([{ text }]));
      }
      const offered = b.toolConfig?.tools?.some((t: any) => t.toolSpec?.name === TOOL);
      if (!offered) return stream ? eventStreamResponse(textFrames(["no MCP tool offered"])) : jsonResponse(converseBody([{ text: "no MCP tool offered" }]));
      if (stream) return eventStreamResponse(toolFrames("", [{ id: "tooluse_mcp1", name: TOOL, input: ['{"text":', '"from bedrock"}'] }]));
      return jsonResponse(converseBody([{ toolUse: { toolUseId: "tooluse_mcp1", name: TOOL, input: { text: "from bedrock" } } }], "tool_use"));
    },
  });
  gw = await startGateway(`
[server]
timeout_secs = 20
[providers.anthropic]
api_key = "sk-ant-upstream-secret"
base_url = "${anthropic.url}"
[providers.bedrock]
region = "${REGION}"
endpoint = "${bedrock.url}"
access_key_id = "${ACCESS_KEY_ID}"
secret_access_key = "mcp-test-secret"
[governance]
max_retries = 0
[mcp]
max_iterations = 4
[mcp.servers.local]
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(STDIO)}]
env = { MOCK_LABEL = "local" }
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "k", maxRetries: 0 });
  await gw.mcp!.whenConnected();
});

afterAll(async () => {
  await gw.stop(false);
  anthropic.stop();
  bedrock.stop();
});

const ask = { messages: [{ role: "user" as const, content: "use the echo tool" }], tools: [{ type: "mcp", server_label: "local" } as any] };

for (const [label, model, expected] of [
  ["Anthropic", "anthropic/claude-sonnet-4-5", "echo(local): from claude"],
  ["Bedrock", "bedrock/anthropic.claude-3-haiku-20240307-v1:0", "echo(local): from bedrock"],
] as const) {
  describe(`the MCP tool loop on ${label}`, () => {
    const calls = () => (label === "Anthropic" ? anthropic.calls : bedrock.calls);

    test("non-streamed: the gateway runs the tool and the client gets the final answer", async () => {
      const before = calls().length;
      const res = await client.chat.completions.create({ model, ...ask });
      expect(res.choices[0]!.message.content).toBe(`Tool said: ${expected}`);
      expect(res.choices[0]!.finish_reason).toBe("stop");
      expect(res.choices[0]!.message.tool_calls ?? []).toEqual([]);
      expect(calls().length - before).toBe(2);
      // usage is summed over both rounds
      expect(res.usage!.completion_tokens).toBeGreaterThan(5);
    });

    test("streamed: one well-formed stream with the final text, tool rounds hidden", async () => {
      const before = calls().length;
      const stream = await client.chat.completions.create({ model, ...ask, stream: true, stream_options: { include_usage: true } });
      let text = "";
      const finishes: string[] = [];
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const c of stream) {
        text += c.choices[0]?.delta?.content ?? "";
        if (c.choices[0]?.delta?.tool_calls) throw new Error("a tool round leaked to the client");
        if (c.choices[0]?.finish_reason) finishes.push(c.choices[0].finish_reason);
        if (c.usage) usage = c.usage;
      }
      expect(text).toEndWith(`Tool said: ${expected}`);
      expect(finishes).toEqual(["stop"]);
      expect(usage!.total_tokens).toBeGreaterThan(0);
      expect(calls().length - before).toBe(2);
    });
  });
}
