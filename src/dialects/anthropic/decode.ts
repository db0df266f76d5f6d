// Anthropic Messages request → the unified (OpenAI Chat Completions) request, per translation.md "Anthropic Messages
// in". Validation first: one compiled checker on the hot path; on failure a second, slower look names the field the
// way Anthropic's 400s do (`messages.0.content.1.source: …`). What cannot cross to a non-Anthropic target (server
// tools, PDFs where the target takes no files, Files API ids) is a 400 that says so, never silently dropped.
import type { TSchema } from "@sinclair/typebox";
import type { ValueError } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import { AlloyError } from "../../errors.ts";
import type { ChatMessage, ChatRequest, FunctionTool, ToolCall, UserContentPart } from "../../openai/schema.ts";
import { LIMITS } from "../../openai/schema.ts";
import { LazyCheck } from "../../util/lazy-check.ts";
import { own } from "../../util/own.ts";
import {
  BlockByType,
  CountTokensRequest,
  CustomTool,
  MessagesRequest,
  ServerTool,
  TextBlock,
  type ContentBlock,
  type DocumentBlock,
  type ImageBlock,
  type InputMessage,
  type ToolChoice,
  type ToolResultBlock,
} from "./schema.ts";

const checkMessages = new LazyCheck(MessagesRequest);
const checkCount = new LazyCheck(CountTokensRequest);
// The error path only: each compiles the first time a block, tool or system block of its kind fails.
const checkBlock: Record<string, LazyCheck<TSchema>> = Object.fromEntries(
  Object.entries(BlockByType).map(([type, schema]) => [type, new LazyCheck(schema as TSchema)]),
);
const checkCustomTool = new LazyCheck(CustomTool);
const checkServerTool = new LazyCheck(ServerTool);
const checkSystemBlock = new LazyCheck(TextBlock);

const bad = (message: string, param: string | null) => new AlloyError("bad_request", param ? `${param}: ${message}` : message, { param });

/** JSON pointer (`/messages/0/content`) → Anthropic's dotted param (`messages.0.content`). */
function dotted(pointer: string, prefix = ""): string {
  const segs = pointer.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  return [prefix, ...segs].filter(Boolean).join(".");
}

function firstError(checker: { Errors(v: unknown): Iterable<ValueError> }, value: unknown, prefix: string): AlloyError | undefined {
  const e = first(checker.Errors(value));
  if (!e) return undefined;
  const param = dotted(e.path, prefix) || null;
  if (e.value === undefined) return bad("Field required", param);
  // A union of `type`-tagged objects (sources, thinking, tool_choice): report against the member the value names.
  const members = (e.schema as { anyOf?: TSchema[] }).anyOf;
  const tag = isObject(e.value) ? e.value.type : undefined;
  if (members && typeof tag === "string") {
    const tags = members.map((m) => (m as { properties?: { type?: { const?: unknown } } }).properties?.type?.const).filter((t) => typeof t === "string");
    const member = members.find((m) => (m as { properties?: { type?: { const?: unknown } } }).properties?.type?.const === tag);
    if (member) return firstError({ Errors: (v) => Value.Errors(member, v) }, e.value, param ?? "");
    if (tags.length) return bad(`expected type to be one of ${tags.map((t) => JSON.stringify(t)).join(", ")}, got ${JSON.stringify(tag).slice(0, 40)}`, `${param}.type`);
  }
  const got = JSON.stringify(e.value)?.slice(0, 80);
  return bad(`${e.message.replace(/^Expected/, "expected")}${got === undefined ? "" : `, got ${got}`}`, param);
}

function first<T>(it: Iterable<T>): T | undefined {
  for (const x of it) return x;
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The slow path: walk the parts whose schemas are unions (messages, blocks, tools, system) to name the exact field. */
function describe(body: unknown, whole: LazyCheck<TSchema>): AlloyError {
  if (!isObject(body)) return bad("Request body must be a JSON object", null);
  const msgs = body.messages;
  if (Array.isArray(msgs))
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i];
      const at = `messages.${i}`;
      if (!isObject(m)) return bad("expected an object with role and content", at);
      if (m.role !== "user" && m.role !== "assistant" && m.role !== "system")
        return bad(`expected "user", "assistant" or "system", got ${JSON.stringify(m.role)?.slice(0, 40) ?? "nothing"}`, `${at}.role`);
      if (m.content === undefined) return bad("Field required", `${at}.content`);
      if (typeof m.content === "string") continue;
      if (!Array.isArray(m.content)) return bad("expected a string or a list of content blocks", `${at}.content`);
      for (let j = 0; j < m.content.length; j++) {
        const b: unknown = m.content[j];
        const bat = `${at}.content.${j}`;
        if (!isObject(b) || typeof b.type !== "string" || !b.type) return bad("expected a content block object with a string `type`", `${bat}.type`);
        const c = own(checkBlock, b.type);
        const err = c && firstError(c, b, bat);
        if (err) return err;
      }
    }
  if (Array.isArray(body.system))
    for (let j = 0; j < body.system.length; j++) {
      const err = firstError(checkSystemBlock, body.system[j], `system.${j}`);
      if (err) return err;
    }
  if (Array.isArray(body.tools))
    for (let j = 0; j < body.tools.length; j++) {
      const t: unknown = body.tools[j];
      const server = isObject(t) && t.type != null && t.type !== "custom";
      const err = firstError(server ? checkServerTool : checkCustomTool, t, `tools.${j}`);
      if (err) return err;
    }
  return firstError(whole, body, "") ?? bad("Invalid request body", null);
}

/** Narrow an unknown body to a Messages request or throw a 400 naming the offending param. */
export function validateMessages(body: unknown): MessagesRequest {
  if (checkMessages.Check(body)) return body;
  throw describe(body, checkMessages);
}

/** The same for POST /v1/messages/count_tokens (no max_tokens). */
export function validateCountTokens(body: unknown): CountTokensRequest {
  if (checkCount.Check(body)) return body;
  throw describe(body, checkCount);
}

export interface DecodeOptions {
  /** The target's models reason: thinking / output_config.effort become reasoning_effort. Otherwise dropped. */
  reasoning?: boolean;
  /** The target takes `file` content parts (PDF documents go as data URLs). Otherwise a PDF is a 400. */
  files?: boolean;
}

/** Block types an earlier native Anthropic turn may have left in the history; they mean nothing to other models. */
const ANTHROPIC_ONLY_HISTORY = /^(server_tool_use|.+_tool_result|mcp_tool_use|mcp_tool_result|container_upload|compaction|redacted_thinking|thinking)$/;

export function toChatRequest(req: MessagesRequest, o: DecodeOptions = {}): ChatRequest {
  const messages: ChatMessage[] = [];
  // Claude Code opens its system prompt with an "x-anthropic-billing-header: cc_version=…" block: attribution for
  // Anthropic's billing, not an instruction, so other models do not get it.
  const blocks = typeof req.system === "string" ? [req.system] : (req.system ?? []).map((b) => b.text);
  const system = blocks.filter((t) => !t.startsWith("x-anthropic-billing-header:")).join("\n\n");
  if (system) messages.push({ role: "system", content: system });
  req.messages.forEach((m, i) => {
    if (m.role === "system") {
      // A system entry in the conversation stays where it is: a system message at that position (its text joined).
      const text = typeof m.content === "string" ? m.content : m.content.flatMap((b) => (b.type === "text" ? [(b as { text: string }).text] : [])).join("\n\n");
      if (text) messages.push({ role: "system", content: text });
    } else messages.push(...(m.role === "user" ? userMessages(m, i, o) : [assistantMessage(m, i)]));
  });

  const out: ChatRequest = { model: req.model, messages, max_completion_tokens: req.max_tokens };
  if (req.stream) {
    out.stream = true;
    // The usage chunk is what gives the final message_delta its real counts.
    out.stream_options = { include_usage: true };
  }
  if (req.stop_sequences?.length) {
    if (req.stop_sequences.length > LIMITS.stop)
      throw bad(`at most ${LIMITS.stop} stop sequences can be sent to this model's target, got ${req.stop_sequences.length}`, "stop_sequences");
    out.stop = req.stop_sequences;
  }
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  // top_k has no Chat Completions counterpart and is dropped.
  if (req.metadata?.user_id) out.user = req.metadata.user_id;

  const tools = (req.tools ?? []).map((t, j): FunctionTool => {
    if (t.type != null && t.type !== "custom")
      throw bad(`'${t.type}' is a tool Anthropic runs server-side; it needs an Anthropic target, and this model's target is not one`, `tools.${j}`);
    const c = t as CustomTool;
    return {
      type: "function",
      function: { name: c.name, ...(c.description ? { description: c.description } : {}), parameters: c.input_schema, ...(c.strict ? { strict: true } : {}) },
    };
  });
  if (tools.length) {
    out.tools = tools;
    if (req.tool_choice) applyToolChoice(out, req.tool_choice);
  }

  if (o.reasoning) {
    const effort = reasoningEffort(req);
    if (effort) out.reasoning_effort = effort;
  }
  const format = req.output_config?.format ?? req.output_format;
  if (format) out.response_format = { type: "json_schema", json_schema: { name: "response", schema: format.schema, strict: true } };
  // cache_control, context_management, service_tier, container and mcp_servers do not cross: OpenAI-type targets
  // cache prompts themselves and have no counterpart for the others.
  return out;
}

function applyToolChoice(out: ChatRequest, c: ToolChoice): void {
  if (c.type === "none") out.tool_choice = "none";
  else {
    out.tool_choice = c.type === "auto" ? "auto" : c.type === "any" ? "required" : { type: "function", function: { name: c.name } };
    if (c.disable_parallel_tool_use) out.parallel_tool_calls = false;
  }
}

/** output_config.effort as given (it is the explicit knob); else the thinking budget in three bands. */
function reasoningEffort(req: MessagesRequest): string | undefined {
  const effort = req.output_config?.effort;
  // Anthropic's "max" has no OpenAI name; "high" is the nearest.
  if (effort) return effort === "max" ? "high" : effort;
  const t = req.thinking;
  if (t?.type !== "enabled") return undefined;
  return t.budget_tokens < 4096 ? "low" : t.budget_tokens < 16384 ? "medium" : "high";
}

/**
 * A user turn → its tool results first (one `tool` message each, as OpenAI wants them right after the assistant's
 * tool_calls), then one user message with the remaining parts. Images inside tool results move to that user message,
 * since OpenAI tool messages carry text only.
 */
function userMessages(m: InputMessage, i: number, o: DecodeOptions): ChatMessage[] {
  if (typeof m.content === "string") return [{ role: "user", content: m.content }];
  const tools: ChatMessage[] = [];
  const parts: UserContentPart[] = [];
  m.content.forEach((b, j) => {
    const at = `messages.${i}.content.${j}`;
    if (b.type === "tool_result") tools.push(toolMessage(b as ToolResultBlock, at, parts));
    else parts.push(...userParts(b, at, o));
  });
  if (parts.length === 0) return tools;
  const onlyText = parts.every((p) => p.type === "text");
  return [...tools, { role: "user", content: onlyText && parts.length === 1 ? (parts[0] as { text: string }).text : parts }];
}

function userParts(b: ContentBlock, at: string, o: DecodeOptions): UserContentPart[] {
  switch (b.type) {
    case "text":
      return [{ type: "text", text: (b as { text: string }).text }];
    case "image":
      return [imagePart(b as ImageBlock, at)];
    case "document":
      return documentParts(b as DocumentBlock, at, o);
    case "search_result": {
      const r = b as { source: string; title: string; content: { text: string }[] };
      return [{ type: "text", text: `${r.title} (${r.source})\n${r.content.map((c) => c.text).join("\n")}` }];
    }
    case "thinking":
    case "redacted_thinking":
      return [];
    default:
      throw bad(`'${b.type}' blocks need an Anthropic target; this model's target cannot take them`, at);
  }
}

function imagePart(b: ImageBlock, at: string): UserContentPart {
  const s = b.source;
  if (s.type === "base64") return { type: "image_url", image_url: { url: `data:${s.media_type};base64,${s.data}` } };
  if (s.type === "url") return { type: "image_url", image_url: { url: s.url } };
  throw bad("images by Files API file_id exist only at Anthropic; send base64 or url sources to this model's target", `${at}.source`);
}

function documentParts(b: DocumentBlock, at: string, o: DecodeOptions): UserContentPart[] {
  const s = b.source;
  const title = b.title ? `${b.title}\n` : "";
  if (s.type === "text") return [{ type: "text", text: title + s.data }];
  if (s.type === "content") {
    if (typeof s.content === "string") return [{ type: "text", text: title + s.content }];
    const texts = s.content.flatMap((c) => {
      const t = (c as { text?: unknown }).text;
      return c.type === "text" && typeof t === "string" ? [t] : [];
    });
    return [{ type: "text", text: title + texts.join("\n") }];
  }
  if (s.type === "base64" && o.files)
    return [{ type: "file", file: { file_data: `data:${s.media_type};base64,${s.data}`, ...(b.title ? { filename: b.title } : {}) } }];
  const what = s.type === "base64" ? "PDF documents" : s.type === "url" ? "documents by URL" : "documents by Files API file_id";
  throw bad(`${what} are not supported by this model's target (it takes no files); send the text instead, or use an Anthropic model`, `${at}.source`);
}

function toolMessage(b: ToolResultBlock, at: string, images: UserContentPart[]): ChatMessage {
  let text = "";
  if (typeof b.content === "string") text = b.content;
  else
    for (const [k, c] of (b.content ?? []).entries()) {
      if (c.type === "text") text += (text ? "\n" : "") + (c as { text: string }).text;
      else if (c.type === "image") images.push(imagePart(c as ImageBlock, `${at}.content.${k}`));
      else if (c.type === "document" || c.type === "search_result")
        for (const p of userParts(c as ContentBlock, `${at}.content.${k}`, {})) if (p.type === "text") text += (text ? "\n" : "") + p.text;
      // tool_reference and other Anthropic-side result blocks carry nothing another model can read.
    }
  return { role: "tool", tool_call_id: b.tool_use_id, content: b.is_error ? `Error: ${text}` : text };
}

/** Text joined, tool_use → tool_calls; thinking (its signature cannot cross) and server-tool history dropped. */
function assistantMessage(m: InputMessage, i: number): ChatMessage {
  if (typeof m.content === "string") return { role: "assistant", content: m.content };
  let text = "";
  const calls: ToolCall[] = [];
  m.content.forEach((b, j) => {
    if (b.type === "text") text += (b as { text: string }).text;
    else if (b.type === "tool_use") {
      const u = b as { id: string; name: string; input: unknown };
      calls.push({ id: u.id, type: "function", function: { name: u.name, arguments: JSON.stringify(u.input) } });
    } else if (!ANTHROPIC_ONLY_HISTORY.test(b.type))
      throw bad(`'${b.type}' blocks cannot be sent to this model's target`, `messages.${i}.content.${j}`);
  });
  return { role: "assistant", content: text || (calls.length ? null : ""), ...(calls.length ? { tool_calls: calls } : {}) };
}
