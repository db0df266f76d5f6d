// Converse response → OpenAI chat.completion (translation.md, "Response → OpenAI"): text blocks joined, toolUse
// blocks as tool_calls with Bedrock's ids, stopReason mapped, cache tokens counted into the prompt.
import type { ContentBlock, ConverseResponse, TokenUsage } from "@aws-sdk/client-bedrock-runtime";
import type { ChatResponse, FinishReason, ToolCall, Usage } from "../../openai/schema.ts";
import { own } from "../../util/own.ts";
import { usageFrom } from "../../openai/usage.ts";

const FINISH: Record<string, FinishReason> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  guardrail_intervened: "content_filter",
  content_filtered: "content_filter",
};

/** Bedrock stopReason → finish_reason; anything unknown (malformed_model_output, new values) is `stop`. */
export function finishReason(stopReason: string | undefined): FinishReason {
  return (stopReason && own(FINISH, stopReason)) || "stop";
}

/** prompt = input + cache reads + cache writes; cached_tokens = cache reads. */
export function toUsage(u: TokenUsage | undefined): Usage {
  return usageFrom({
    input: u?.inputTokens ?? 0,
    output: u?.outputTokens ?? 0,
    cacheRead: u?.cacheReadInputTokens ?? 0,
    cacheWrite: u?.cacheWriteInputTokens ?? 0,
  });
}

/** Text and tool calls of an assistant message; reasoning blocks never reach `content`. */
export function toMessageParts(blocks: ContentBlock[] | undefined): { content: string | null; toolCalls: ToolCall[] } {
  let text: string | null = null;
  const toolCalls: ToolCall[] = [];
  for (const b of blocks ?? []) {
    if (typeof b.text === "string") text = (text ?? "") + b.text;
    else if (b.toolUse)
      toolCalls.push({
        id: b.toolUse.toolUseId ?? "",
        type: "function",
        function: { name: b.toolUse.name ?? "", arguments: JSON.stringify(b.toolUse.input ?? {}) },
      });
  }
  return { content: text, toolCalls };
}

export interface ResponseMeta {
  id: string;
  /** What the client asked for. */
  model: string;
  created: number;
}

export function fromConverseResponse(out: Pick<ConverseResponse, "output" | "stopReason" | "usage">, meta: ResponseMeta): ChatResponse {
  const message = out.output && "message" in out.output ? out.output.message : undefined;
  const { content, toolCalls } = toMessageParts(message?.content);
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, refusal: null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
        finish_reason: finishReason(out.stopReason),
        logprobs: null,
      },
    ],
    usage: toUsage(out.usage),
  };
}
