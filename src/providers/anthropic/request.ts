// OpenAI Chat Completions request → Anthropic Messages request, as plain code: the outgoing body can be read from
// this one function. Input Anthropic would reject for a reason the client cannot see (a system role inside messages,
// two user turns in a row, empty text blocks) is reshaped; input that cannot be expressed at all is a clear 400.
import { AlloyError } from "../../errors.ts";
import { pushTurn } from "../kit.ts";
import { contentText, type ChatMessage, type ChatRequest, type UserContentPart } from "../../openai/schema.ts";
import type { AnthropicMessage, AnthropicRequest, AnthropicTool, AnthropicToolChoice, RequestBlock } from "./schema.ts";
import { parseDataUrl, toolArguments } from "../content.ts";

export interface RequestOptions {
  /** The model id at Anthropic. */
  model: string;
  /** max_tokens when the client sends neither max_completion_tokens nor max_tokens (Anthropic requires one). */
  defaultMaxTokens: number;
}

/** The tool that carries a `response_format: json_schema` answer; its input becomes the message content. */
export interface JsonTool {
  name: string;
  /** Forced with tool_choice (no client tools): any text beside it is dropped, its tool_use ends as `stop`. */
  forced: boolean;
}

export interface Translated {
  body: AnthropicRequest;
  jsonTool?: JsonTool;
}

const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

const bad = (message: string, param: string) => new AlloyError("bad_request", message, { param });

export function toAnthropicRequest(req: ChatRequest, o: RequestOptions): Translated {
  if (req.n != null && req.n > 1) throw bad("Anthropic models return one choice per request: 'n' must be 1", "n");

  const system: string[] = [];
  const turns: AnthropicMessage[] = [];
  // Anthropic requires alternating roles: a message of the same role as the previous one is merged into it.
  const push = (role: "user" | "assistant", blocks: RequestBlock[]) => pushTurn(turns, role, blocks);
  req.messages.forEach((m, i) => {
    switch (m.role) {
      case "system":
      case "developer": {
        const text = contentText(m.content);
        if (text.trim()) system.push(text);
        break;
      }
      case "user":
        push("user", userBlocks(m.content, i));
        break;
      case "assistant":
        push("assistant", assistantBlocks(m, i));
        break;
      case "tool":
        push("user", [toolResult(m.tool_call_id, contentText(m.content))]);
        break;
      case "function":
        throw bad("The legacy 'function' role is not supported for Anthropic models; use 'tool' messages", `messages[${i}].role`);
    }
  });
  for (const t of turns) if (t.role === "user") t.content = toolResultsFirst(t.content);
  trimPrefill(turns);
  if (turns.length === 0) throw bad("At least one user or assistant message with content is required", "messages");

  const body: AnthropicRequest = {
    model: o.model,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? o.defaultMaxTokens,
    messages: turns,
  };
  if (system.length) body.system = system.join("\n\n");
  const stop = typeof req.stop === "string" ? [req.stop] : (req.stop ?? []);
  // Anthropic rejects whitespace-only stop sequences (OpenAI's common "\n"); they are dropped rather than failing.
  const stops = stop.filter((s) => s.trim() !== "");
  if (stops.length) body.stop_sequences = stops;
  // Anthropic's temperature range is 0–1 where OpenAI's is 0–2.
  if (typeof req.temperature === "number") body.temperature = Math.min(1, req.temperature);
  if (typeof req.top_p === "number") body.top_p = req.top_p;
  if (req.user) body.metadata = { user_id: req.user };

  const tools: AnthropicTool[] = [];
  for (const t of req.tools ?? []) {
    if (t.type !== "function") continue; // MCP tools are expanded by the gateway before a provider sees them
    const f = t.function;
    tools.push({ name: f.name, ...(f.description ? { description: f.description } : {}), input_schema: objectSchema(f.parameters) });
  }
  const clientTools = tools.length;
  let choice = tools.length ? toolChoice(req) : undefined;
  let jsonTool: JsonTool | undefined;
  const rf = req.response_format;
  if (rf?.type === "json_schema") {
    const s = rf.json_schema;
    let name = s.name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64) || "json_response";
    if (tools.some((t) => t.name === name)) name = "json_response";
    tools.push({
      name,
      description: s.description ?? "Respond by calling this tool: its input is your answer, matching the schema.",
      input_schema: objectSchema(s.schema),
    });
    // Without client tools the answer must be this tool; with them the model chooses (tool_choice as the client said).
    jsonTool = { name, forced: clientTools === 0 };
    if (jsonTool.forced) choice = { type: "tool", name };
  }
  if (tools.length) body.tools = tools;
  if (choice) body.tool_choice = choice;
  return { body, ...(jsonTool ? { jsonTool } : {}) };
}

function toolChoice(req: ChatRequest): AnthropicToolChoice | undefined {
  const c = req.tool_choice;
  const noParallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  if (c === "none") return { type: "none" };
  if (c === "required") return { type: "any", ...noParallel };
  if (typeof c === "object") return { type: "tool", name: c.function.name, ...noParallel };
  if (c === "auto" || req.parallel_tool_calls === false) return { type: "auto", ...noParallel };
  return undefined;
}

/** Anthropic requires an object schema; OpenAI allows parameters to be omitted or `{}`. */
function objectSchema(schema: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!schema || Object.keys(schema).length === 0) return { type: "object", properties: {} };
  return schema.type === undefined ? { type: "object", ...schema } : schema;
}

/** A text block, or nothing: Anthropic rejects empty and whitespace-only text blocks. */
function text(t: string): RequestBlock[] {
  return t.trim() ? [{ type: "text", text: t }] : [];
}

function userBlocks(content: string | UserContentPart[], i: number): RequestBlock[] {
  if (typeof content === "string") return text(content);
  const out: RequestBlock[] = [];
  content.forEach((p, j) => {
    const param = `messages[${i}].content[${j}]`;
    switch (p.type) {
      case "text":
        out.push(...text(p.text));
        break;
      case "image_url":
        out.push(imageBlock(p.image_url.url, `${param}.image_url.url`));
        break;
      case "file": {
        const d = p.file.file_data ? parseDataUrl(p.file.file_data) : undefined;
        if (!d || d.mediaType !== "application/pdf")
          throw bad("Only PDF files sent inline as file_data (a base64 data URL) are supported for Anthropic models", `${param}.file`);
        out.push({ type: "document", source: { type: "base64", media_type: d.mediaType, data: d.data } });
        break;
      }
      case "input_audio":
        throw bad("Audio input is not supported by Anthropic models", param);
    }
  });
  return out;
}

function imageBlock(url: string, param: string): RequestBlock {
  if (/^https?:\/\//i.test(url)) return { type: "image", source: { type: "url", url } };
  const d = parseDataUrl(url);
  if (!d) throw bad("Image URLs must be http(s) URLs or base64 data URLs (data:image/png;base64,...)", param);
  if (!IMAGE_TYPES.has(d.mediaType))
    throw bad(`Unsupported image type '${d.mediaType}': Anthropic accepts image/jpeg, image/png, image/gif and image/webp`, param);
  return { type: "image", source: { type: "base64", media_type: d.mediaType, data: d.data } };
}

function assistantBlocks(m: Extract<ChatMessage, { role: "assistant" }>, i: number): RequestBlock[] {
  const out: RequestBlock[] = [];
  if (typeof m.content === "string") out.push(...text(m.content));
  else if (Array.isArray(m.content))
    for (const p of m.content) out.push(...text(p.type === "text" ? p.text : p.refusal));
  (m.tool_calls ?? []).forEach((c, j) => {
    const input = toolArguments(c.function.arguments, c.function.name, `messages[${i}].tool_calls[${j}].function.arguments`);
    out.push({ type: "tool_use", id: c.id, name: c.function.name, input });
  });
  return out;
}

function toolResult(id: string, content: string): RequestBlock {
  return { type: "tool_result", tool_use_id: id, ...(content.trim() ? { content } : {}) };
}

/** Anthropic wants a user turn's tool_result blocks before any other block in it. */
function toolResultsFirst(blocks: RequestBlock[]): RequestBlock[] {
  const results = blocks.filter((b) => b.type === "tool_result");
  if (results.length === 0 || results.length === blocks.length) return blocks;
  return [...results, ...blocks.filter((b) => b.type !== "tool_result")];
}

/** A final assistant turn is a prefill, which Anthropic rejects when it ends in whitespace. */
function trimPrefill(turns: AnthropicMessage[]): void {
  const last = turns[turns.length - 1];
  if (!last || last.role !== "assistant") return;
  const b = last.content[last.content.length - 1];
  if (b?.type !== "text") return;
  b.text = b.text.trimEnd(); // never empty: text() kept only blocks with non-whitespace
}
