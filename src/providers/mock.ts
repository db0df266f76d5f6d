// A keyless in-process upstream: echoes the last user message (or a fixed reply), streams it word by word, calls
// tools on request (tool_choice, or a `[mock:tool NAME {args}]` directive in the prompt) and fails on purpose. It goes through the same routing, governance and observability as any
// provider, so operators can try the gateway (and load-test it) with no network and no keys.
import { Type as T } from "@sinclair/typebox";
import { chunkOf, unixNow, usageChunk, type Delta } from "./kit.ts";
import { AlloyError } from "../errors.ts";
import { sleep } from "../governance/backoff.ts";
import { contentText, type ChatRequest, type ChatResponse, type FinishReason, type ToolCall, type Usage } from "../openai/schema.ts";
import type { ProviderConfig } from "../config/schema.ts";
import type { CallOptions, Piece, Provider, ProviderModule, Reply } from "./provider.ts";
import { embeddingsList } from "../dialects/embeddings/encode.ts";
import type { EmbeddingsRequest, EmbeddingsResponse, Inputs } from "../dialects/embeddings/schema.ts";
import { MOCK_DIMENSIONS, MOCK_MAX_VALUES, mockVector, tokensKey } from "./mock/embeddings.ts";

export interface MockConfig extends ProviderConfig {
  reply?: string;
  latency_ms: number;
  tokens_per_sec?: number;
  fail_rate: number;
}

/** The usage rule: a token is a run of non-space characters; the prompt counts the text of every message. */
export function countTokens(text: string): number {
  const m = text.match(/\S+/g);
  return m ? m.length : 0;
}

interface Answer {
  content: string | null;
  toolCalls: ToolCall[] | undefined;
  usage: Usage;
}

/** `[mock:tool NAME]` or `[mock:tool NAME {"json": "arguments"}]` in a user message: call that tool if offered. */
const DIRECTIVE = /\[mock:tool ([A-Za-z0-9_.:-]+)(?:\s+(\{.*\}))?\]/s;

export interface Directive {
  name: string;
  /** The arguments as JSON text ("{}" when none were given). */
  arguments: string;
}

/** The directive in a text, when there is one whose arguments (if any) are a JSON object. */
export function parseDirective(text: string): Directive | undefined {
  const m = DIRECTIVE.exec(text);
  if (!m) return undefined;
  if (m[2] === undefined) return { name: m[1]!, arguments: "{}" };
  try {
    const args: unknown = JSON.parse(m[2]);
    return args && typeof args === "object" && !Array.isArray(args) ? { name: m[1]!, arguments: JSON.stringify(args) } : undefined;
  } catch {
    return undefined;
  }
}

let seq = 0;
const nextId = () => `mock-${Date.now().toString(36)}-${(seq++).toString(36)}`;

export class MockProvider implements Provider {
  constructor(
    readonly name: string,
    private readonly cfg: MockConfig,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * What the mock answers, first rule that applies:
   * 1. the latest user message with a `[mock:tool NAME {args}]` directive, NAME among the request's tools: that tool
   *    call, unless a tool result already follows that message — then `Tool result: <the last result>`;
   * 2. the model id `tool:NAME` and a tool NAME (or `<namespace>__NAME`) offered: a call to it with the last user
   *    message as its arguments when that is a JSON object (else `{}`), unless the last message is a tool result;
   * 3. a tool call when tool_choice names one (or is "required");
   * 4. the configured reply; `Tool result: …` after a tool result; else `You said: <last user text>`.
   */
  answer(req: ChatRequest, model = ""): Answer {
    let prompt = 0;
    for (const m of req.messages) prompt += countTokens(contentText(m.content));
    const last = req.messages[req.messages.length - 1]!;
    const tools = (req.tools ?? []).filter((t) => t.type === "function");
    const scripted = this.directed(req, tools.map((t) => t.function.name));
    if (scripted) return { ...scripted, usage: usage(prompt, scripted.toolCalls ? 1 : countTokens(scripted.content ?? "")) };
    const choice = req.tool_choice;
    const asked = model.startsWith("tool:") ? model.slice(5) : undefined;
    const byModel = asked
      ? tools.find((t) => t.type === "function" && (t.function.name === asked || t.function.name.endsWith(`__${asked}`)))
      : undefined;
    const toolName =
      last.role === "tool"
        ? undefined
        : typeof choice === "object"
          ? choice.function.name
          : byModel?.type === "function"
            ? byModel.function.name
            : choice === "required" && tools[0]?.type === "function"
              ? tools[0].function.name
              : undefined;
    if (toolName) {
      const lastUser = [...req.messages].reverse().find((m) => m.role === "user");
      const args = byModel && lastUser ? jsonObjectText(contentText(lastUser.content)) : "{}";
      const call: ToolCall = { id: `call_${nextId().replace(/-/g, "")}`, type: "function", function: { name: toolName, arguments: args } };
      return { content: null, toolCalls: [call], usage: usage(prompt, 1) };
    }
    let content: string;
    if (this.cfg.reply !== undefined) content = this.cfg.reply;
    else if (last.role === "tool") content = `Tool result: ${contentText(last.content)}`;
    else {
      const lastUser = [...req.messages].reverse().find((m) => m.role === "user");
      content = `You said: ${lastUser ? contentText(lastUser.content) : ""}`;
    }
    return { content, toolCalls: undefined, usage: usage(prompt, countTokens(content)) };
  }

  /** Rule 1 of `answer`: the directive's tool call, or the tool's result once it has run. */
  private directed(req: ChatRequest, offered: string[]): Omit<Answer, "usage"> | undefined {
    let result: string | undefined;
    for (let i = req.messages.length - 1; i >= 0; i--) {
      const m = req.messages[i]!;
      if (m.role === "tool") {
        result ??= contentText(m.content);
        continue;
      }
      if (m.role !== "user") continue;
      const d = parseDirective(contentText(m.content));
      if (!d) continue;
      if (!offered.includes(d.name)) return undefined;
      if (result !== undefined) return { content: `Tool result: ${result}`, toolCalls: undefined };
      const call: ToolCall = { id: `call_${nextId().replace(/-/g, "")}`, type: "function", function: { name: d.name, arguments: d.arguments } };
      return { content: null, toolCalls: [call] };
    }
    return undefined;
  }

  private async begin(o: CallOptions): Promise<void> {
    if (this.cfg.latency_ms > 0) await sleep(this.cfg.latency_ms, o.signal);
    if (this.cfg.fail_rate > 0 && this.random() < this.cfg.fail_rate)
      throw new AlloyError("overloaded", `${this.name}: simulated upstream failure (fail_rate ${this.cfg.fail_rate})`, { status: 503 });
  }

  async chat(req: ChatRequest, o: CallOptions): Promise<Reply<ChatResponse>> {
    await this.begin(o);
    const a = this.answer(req, o.model);
    const value: ChatResponse = {
      id: `chatcmpl-${nextId()}`,
      object: "chat.completion",
      created: unixNow(),
      model: o.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: a.content, refusal: null, ...(a.toolCalls ? { tool_calls: a.toolCalls } : {}) },
          finish_reason: a.toolCalls ? "tool_calls" : "stop",
          logprobs: null,
        },
      ],
      usage: a.usage,
    };
    return { value };
  }

  /** Deterministic unit vectors derived from each input; usage counts tokens by the mock's rule (token arrays: their length). */
  async embeddings(req: EmbeddingsRequest, inputs: Inputs, o: CallOptions): Promise<Reply<EmbeddingsResponse>> {
    const dims = req.dimensions ?? MOCK_DIMENSIONS;
    const n = inputs.kind === "text" ? inputs.texts.length : inputs.tokens.length;
    if (n * dims > MOCK_MAX_VALUES)
      throw new AlloyError("bad_request", `${this.name}: ${n} inputs × ${dims} dimensions is more than the mock answers at once (${MOCK_MAX_VALUES} values)`, { param: "dimensions" });
    await this.begin(o);
    let tokens = 0;
    const vectors =
      inputs.kind === "text"
        ? inputs.texts.map((t) => ((tokens += countTokens(t)), mockVector(t, dims)))
        : inputs.tokens.map((t) => ((tokens += t.length), mockVector(tokensKey(t), dims)));
    return { value: embeddingsList(vectors, o.model, tokens) };
  }

  async *chatStream(req: ChatRequest, o: CallOptions): AsyncGenerator<Piece> {
    await this.begin(o);
    const a = this.answer(req, o.model);
    const head = { id: `chatcmpl-${nextId()}`, created: unixNow(), model: o.model };
    const chunk = (delta: Delta, finish: FinishReason | null = null): Piece => ({ chunk: chunkOf(head, delta, finish) });
    yield chunk({ role: "assistant", content: "" });
    const pause = this.cfg.tokens_per_sec ? 1000 / this.cfg.tokens_per_sec : 0;
    if (a.toolCalls) {
      for (const [index, c] of a.toolCalls.entries())
        yield chunk({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.function.name, arguments: c.function.arguments } }] });
    } else {
      // Words keep their leading space so the client's concatenation is exactly the reply.
      const words = a.content!.match(/\s*\S+/g) ?? [];
      for (const w of words) {
        if (pause) await sleep(pause, o.signal);
        yield chunk({ content: w });
      }
    }
    yield chunk({}, a.toolCalls ? "tool_calls" : "stop");
    yield { chunk: usageChunk(head, a.usage) };
  }
}

/** The text when it is a JSON object, else `{}`. */
function jsonObjectText(text: string): string {
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return JSON.stringify(v);
  } catch {
    // not JSON: no arguments
  }
  return "{}";
}

function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export const mockModule: ProviderModule<MockConfig> = {
  type: "mock",
  options: {
    reply: T.Optional(T.String()),
    latency_ms: T.Number({ minimum: 0, default: 0 }),
    tokens_per_sec: T.Optional(T.Number({ exclusiveMinimum: 0 })),
    fail_rate: T.Number({ minimum: 0, maximum: 1, default: 0 }),
  },
  resolve: (_name, cfg) => ({ cfg }),
  create: (name, cfg) => new MockProvider(name, cfg),
};
