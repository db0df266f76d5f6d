// The frameworks users build on, pointed at Alloy: the Vercel AI SDK's OpenAI-compatible provider and LangChain's
// ChatOpenAI, tool loops included (the framework runs the tool; the model asks for it through Alloy).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { ChatOpenAI } from "@langchain/openai";
import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { completion, jsonResponse, sseResponse, startOpenAIMock, textChunks, toolCallChunks, type OpenAIMock, type Script } from "../mocks/openai-upstream.ts";

/** A model that asks for get_weather first, then answers with what the tool returned. */
const weatherModel: Script = (call) => {
  const b = call.body;
  const last = b.messages[b.messages.length - 1];
  const usage = b.stream_options?.include_usage === true;
  if (last.role !== "tool") {
    const tc = { id: "call_w1", name: "get_weather", args: ['{"city":', '"Paris"}'] };
    if (b.stream) return sseResponse(toolCallChunks(b.model, [tc], usage));
    return jsonResponse(completion(b.model, null, { tool_calls: [{ id: tc.id, type: "function", function: { name: tc.name, arguments: tc.args.join("") } }] }));
  }
  const answer = `Paris: ${typeof last.content === "string" ? last.content : JSON.stringify(last.content)}`;
  if (b.stream) return sseResponse(textChunks(b.model, answer.split(/(?= )/), usage));
  return jsonResponse(completion(b.model, answer));
};

let upstream: OpenAIMock;
let gw: TestGateway;

beforeAll(async () => {
  upstream = startOpenAIMock(weatherModel);
  gw = await startGateway(`
[providers.openai]
api_key = "sk-real"
base_url = "${upstream.url}"
[models.assistant]
targets = ["openai/gpt-4o-mini"]
`);
});
afterAll(async () => {
  await gw.stop(false);
  upstream.stop();
});

const weatherTool = {
  description: "Current weather for a city",
  inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
};

describe("Vercel AI SDK (@ai-sdk/openai-compatible)", () => {
  const alloy = () => createOpenAICompatible({ name: "alloy", baseURL: `${gw.url}/v1`, apiKey: "client-key", includeUsage: true });

  test("generateText runs a tool loop through Alloy", async () => {
    const seen: string[] = [];
    const result = await generateText({
      model: alloy()("assistant"),
      prompt: "What's the weather in Paris?",
      tools: { get_weather: tool({ ...weatherTool, execute: async ({ city }) => (seen.push(city), "18°C and sunny") }) },
      stopWhen: stepCountIs(3),
    });
    expect(seen).toEqual(["Paris"]);
    expect(result.text).toBe("Paris: 18°C and sunny");
    expect(result.steps.length).toBe(2);
    // the second upstream call carried the tool result back in OpenAI's shape
    const second = upstream.calls[upstream.calls.length - 1]!.body;
    expect(second.messages.at(-1)).toMatchObject({ role: "tool", tool_call_id: "call_w1" });
  });

  test("streamText streams the loop's final answer", async () => {
    const result = streamText({
      model: alloy()("openai/gpt-4o-mini"),
      prompt: "Weather in Paris?",
      tools: { get_weather: tool({ ...weatherTool, execute: async () => "rainy" }) },
      stopWhen: stepCountIs(3),
    });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe("Paris: rainy");
    expect((await result.totalUsage).outputTokens).toBeGreaterThan(0);
  });
});

describe("LangChain ChatOpenAI", () => {
  const model = () =>
    new ChatOpenAI({ model: "assistant", apiKey: "client-key", configuration: { baseURL: `${gw.url}/v1` }, maxRetries: 0 });

  test("bindTools + a manual tool loop", async () => {
    const llm = model().bindTools([
      { type: "function", function: { name: "get_weather", description: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
    ]);
    const messages: BaseMessage[] = [new HumanMessage("Weather in Paris?")];
    const first = (await llm.invoke(messages)) as AIMessage;
    expect(first.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" }, id: "call_w1" });
    messages.push(first, new ToolMessage({ content: "windy", tool_call_id: first.tool_calls![0]!.id! }));
    const second = await llm.invoke(messages);
    expect(second.content).toBe("Paris: windy");
  });

  test("streaming", async () => {
    const llm = model();
    let text = "";
    for await (const chunk of await llm.stream([new HumanMessage("hi"), new AIMessage({ content: "", tool_calls: [{ id: "call_w1", name: "get_weather", args: { city: "Paris" } }] }), new ToolMessage({ content: "foggy", tool_call_id: "call_w1" })]))
      text += chunk.content;
    expect(text).toBe("Paris: foggy");
  });
});
