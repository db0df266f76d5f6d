// Anthropic Messages response → OpenAI chat.completion. Pure: the clock and the client's model name come in as
// arguments. Only text and tool_use blocks reach the client; thinking, redacted_thinking, server-tool and future
// block types are skipped so they can never leak into content.
import type { ChatResponse, FinishReason, ToolCall, Usage } from "../../openai/schema.ts";
import type { JsonTool } from "./request.ts";
import type { AnthropicResponse, AnthropicUsage } from "./schema.ts";
import { usageFrom } from "../../openai/usage.ts";

export interface ResponseOptions {
  /** What the client asked for (the OpenAI `model` field echoes it). */
  model: string;
  /** Unix seconds. */
  created: number;
  jsonTool?: JsonTool;
}

/** Anthropic stop_reason → OpenAI finish_reason; unknown and future reasons read as a normal stop. */
export function finishReason(stop: string | null | undefined, toolCalls: boolean): FinishReason {
  switch (stop) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      // A tool_use stop whose only tool was the response_format tool is an ordinary answer.
      return toolCalls ? "tool_calls" : "stop";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** prompt = input + cache reads + cache writes (all billed input); cached_tokens = cache reads. */
export function toUsage(u: AnthropicUsage | undefined): Usage {
  return usageFrom({
    input: u?.input_tokens ?? 0,
    output: u?.output_tokens ?? 0,
    cacheRead: u?.cache_read_input_tokens ?? 0,
    cacheWrite: u?.cache_creation_input_tokens ?? 0,
  });
}

export function fromAnthropicResponse(msg: AnthropicResponse, o: ResponseOptions): ChatResponse {
  let text: string | null = null;
  let json: string | null = null;
  const toolCalls: ToolCall[] = [];
  for (const b of msg.content) {
    if (b.type === "text" && typeof b.text === "string") text = (text ?? "") + b.text;
    else if (b.type === "tool_use" && typeof b.id === "string" && typeof b.name === "string") {
      const args = JSON.stringify(b.input ?? {});
      if (o.jsonTool && b.name === o.jsonTool.name) json = args;
      else toolCalls.push({ id: b.id, type: "function", function: { name: b.name, arguments: args } });
    }
  }
  // The response_format tool's input is the whole answer: text beside it is commentary the client could not parse.
  const content = json ?? text;
  return {
    id: msg.id,
    object: "chat.completion",
    created: o.created,
    model: o.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, refusal: null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
        finish_reason: finishReason(msg.stop_reason, toolCalls.length > 0),
        logprobs: null,
      },
    ],
    usage: toUsage(msg.usage),
  };
}
