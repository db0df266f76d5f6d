// Responses request → unified Chat Completions request (translation.md, "Responses API in ⇄ Chat Completions").
// validateResponses checks the wire shape; toChatRequest turns the conversation (stored earlier turns, then this
// turn's input) into chat messages and the rest of the parameters into their chat counterparts.
import type { TSchema } from "@sinclair/typebox";
import { AlloyError } from "../../errors.ts";
import { LazyCheck } from "../../util/lazy-check.ts";
import type { ChatMessage, ChatRequest, FunctionTool, McpTool, ToolCall, ToolChoice, UserContentPart } from "../../openai/schema.ts";
import { own } from "../../util/own.ts";
import { ItemIds } from "./ids.ts";
import { flatName, flattenNamespace, flattenTool, type ToolNames } from "./tools.ts";
import {
  ItemByType,
  LIMITS,
  PartByType,
  ResponsesRequest,
  ToolByType,
  ToolChoiceFunction,
  FormatJsonSchema,
  type ContentPart,
  type FunctionCallOutputItem,
  type InputItem,
  type McpToolParam,
  type MessageItem,
  type ResponseItem,
  type ResponsesRequest as Req,
  type ToolChoiceParam,
  type ToolParam,
} from "./schema.ts";

const checkRequest = new LazyCheck(ResponsesRequest);
const lazyAll = (table: Record<string, TSchema>) =>
  Object.fromEntries(Object.entries(table).map(([k, s]) => [k, new LazyCheck(s)])) as Record<string, LazyCheck<TSchema>>;
const itemChecks = lazyAll(ItemByType);
const partChecks = lazyAll(PartByType);
const toolChecks = lazyAll(ToolByType);
const toolChoiceFunction = new LazyCheck(ToolChoiceFunction);
const formatJsonSchema = new LazyCheck(FormatJsonSchema);

function fieldPath(pointer: string, prefix: string): string {
  let out = prefix;
  for (const seg of pointer.split("/").slice(1)) out += /^\d+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

function bad(param: string, message: string): AlloyError {
  return new AlloyError("bad_request", `Invalid '${param}': ${message}`, { param });
}

function firstError(check: LazyCheck<TSchema>, value: unknown, prefix: string): AlloyError | undefined {
  const e = check.Errors(value).First();
  if (!e) return undefined;
  const got = e.value === undefined ? "" : `, got ${JSON.stringify(e.value)?.slice(0, 80)}`;
  return bad(fieldPath(e.path, prefix) || prefix || "body", `${e.message.replace(/^Expected/, "expected")}${got}`);
}

/** The kind of an input item: its `type`, else a message when it has a role, else a reference when it has an id. */
export function itemKind(item: unknown): string | undefined {
  if (!item || typeof item !== "object" || Array.isArray(item)) return undefined;
  const o = item as { type?: unknown; role?: unknown; id?: unknown };
  if (typeof o.type === "string") return o.type;
  if (o.type === undefined && o.role !== undefined) return "message";
  if (o.type == null && typeof o.id === "string") return "item_reference";
  return undefined;
}

function checkItem(item: unknown, at: string): AlloyError | undefined {
  const kind = itemKind(item);
  if (kind === undefined) return bad(`${at}.type`, "expected an item type (message, function_call, function_call_output, reasoning, item_reference, …)");
  const check = own(itemChecks, kind);
  if (!check) return undefined; // other item types are kept as they are
  if (kind === "message") {
    const content = (item as { content?: unknown }).content;
    if (Array.isArray(content)) {
      if (content.length > LIMITS.parts) return bad(`${at}.content`, `expected at most ${LIMITS.parts} parts, got ${content.length}`);
      for (let j = 0; j < content.length; j++) {
        const t = (content[j] as { type?: unknown } | null)?.type;
        const pc = typeof t === "string" ? own(partChecks, t) : undefined;
        if (!pc) return bad(`${at}.content[${j}].type`, `expected one of ${Object.keys(PartByType).join(", ")}, got ${JSON.stringify(t)?.slice(0, 80) ?? "nothing"}`);
        const err = firstError(pc, content[j], `${at}.content[${j}]`);
        if (err) return err;
      }
    }
  }
  return firstError(check, item, at);
}

/** Narrow an unknown body to a Responses request or throw a 400 naming the offending field. */
export function validateResponses(body: unknown): Req {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new AlloyError("bad_request", "Request body must be a JSON object", { param: null });
  const b = body as { input?: unknown; tools?: unknown; tool_choice?: unknown; text?: unknown };
  // Too many items or tools is the answer by itself: do not walk thousands of them first to find a smaller fault.
  if (Array.isArray(b.input) && b.input.length > LIMITS.items) throw bad("input", `expected at most ${LIMITS.items} items, got ${b.input.length}`);
  if (Array.isArray(b.tools) && b.tools.length > LIMITS.tools) throw bad("tools", `expected at most ${LIMITS.tools} tools, got ${b.tools.length}`);
  // Item, tool and tool_choice schemas first: the request schema lets unknown types through, so their faults show here.
  if (Array.isArray(b.input))
    for (let i = 0; i < b.input.length; i++) {
      const err = checkItem(b.input[i], `input[${i}]`);
      if (err) throw err;
    }
  if (Array.isArray(b.tools))
    for (let i = 0; i < b.tools.length; i++) {
      const t = b.tools[i] as { type?: unknown } | null;
      if (!t || typeof t !== "object" || typeof t.type !== "string") throw bad(`tools[${i}].type`, "expected a tool type (function, mcp, web_search, …)");
      const check = own(toolChecks, t.type);
      const err = check && firstError(check, t, `tools[${i}]`);
      if (err) throw err;
    }
  // Unions report a fault at their own level; the object forms that need more than a type are checked alone.
  const tc = b.tool_choice as { type?: unknown } | undefined;
  const tcErr = tc && typeof tc === "object" && tc.type === "function" ? firstError(toolChoiceFunction, tc, "tool_choice") : undefined;
  if (tcErr) throw tcErr;
  const format = (b as { text?: { format?: { type?: unknown } } }).text?.format;
  const fmtErr = format && typeof format === "object" && format.type === "json_schema" ? firstError(formatJsonSchema, format, "text.format") : undefined;
  if (fmtErr) throw fmtErr;
  if (checkRequest.Check(body)) return body;
  throw firstError(checkRequest, body, "") ?? new AlloyError("bad_request", "Invalid request body");
}

// ── translation ───────────────────────────────────────────────────────────────────────────────────────────────

export interface ChatTranslation {
  chat: ChatRequest;
  /** This turn's input as items, each with an id (the client's, or one derived from the response id), for the store. */
  inputItems: ResponseItem[];
  /** Built-in tool types left out because Chat Completions targets cannot run them (for a debug line). */
  dropped: string[];
  /** Flattened tool names (namespace members, custom tools) → what they stand for, for the encoders. */
  toolNames: ToolNames;
}

export interface DecodeOptions {
  /** The id the route gives this response (`resp_…`): ids of input items without one derive from it. */
  responseId?: string;
}

function textOf(content: string | ContentPart[]): string {
  if (typeof content === "string") return content;
  let out = "";
  for (const p of content) {
    if (p.type === "input_text" || p.type === "output_text") out += p.text;
    else if (p.type === "refusal") out += p.refusal;
  }
  return out;
}

function userPart(p: ContentPart, at: string): UserContentPart {
  switch (p.type) {
    case "input_text":
    case "output_text":
      return { type: "text", text: p.text };
    case "refusal":
      return { type: "text", text: p.refusal };
    case "input_image":
      if (p.image_url) {
        const detail = p.detail === "original" ? "high" : p.detail;
        return { type: "image_url", image_url: detail ? { url: p.image_url, detail } : { url: p.image_url } };
      }
      if (p.file_id) return { type: "file", file: { file_id: p.file_id } };
      throw bad(at, "an input_image needs image_url or file_id");
    case "input_file":
      if (p.file_data || p.file_id) {
        const file: { file_data?: string; file_id?: string; filename?: string } = {};
        if (p.file_data) file.file_data = p.file_data;
        if (p.file_id) file.file_id = p.file_id;
        if (p.filename) file.filename = p.filename;
        return { type: "file", file };
      }
      throw bad(at, "file_url is not supported on this target; send file_data or file_id");
  }
}

function messageOf(item: MessageItem, at: string): ChatMessage {
  const { role, content } = item;
  if (role === "user") {
    if (typeof content === "string") return { role, content };
    return { role, content: content.map((p, j) => userPart(p, `${at}.content[${j}]`)) };
  }
  if (role === "assistant") return { role, content: textOf(content) };
  return { role, content: textOf(content) };
}

function toolOutputText(output: FunctionCallOutputItem["output"]): string {
  if (typeof output === "string") return output;
  let out = "";
  for (const p of output) if (p.type === "input_text") out += p.text;
  return out;
}

/** Items (earlier turns, then this one) → chat messages; function calls in a row share one assistant message. */
function messagesOf(items: readonly ResponseItem[], firstInput: number, byId: Map<string, ResponseItem>, out: ChatMessage[]): void {
  for (let i = 0; i < items.length; i++) {
    const at = i >= firstInput ? `input[${i - firstInput}]` : "previous_response_id";
    let item = items[i]!;
    let kind = itemKind(item);
    if (kind === "item_reference") {
      const ref = byId.get((item as { id: string }).id);
      if (!ref) throw bad(`${at}.id`, `no earlier item has the id ${JSON.stringify((item as { id: string }).id).slice(0, 80)}`);
      item = ref;
      kind = itemKind(ref);
    }
    switch (kind) {
      case "message":
        out.push(messageOf(item as MessageItem, at));
        break;
      case "function_call":
      case "custom_tool_call": {
        const fc = item as { call_id: string; name: string; namespace?: unknown; arguments?: string; input?: unknown };
        const name = flatName(typeof fc.namespace === "string" ? fc.namespace : undefined, fc.name);
        const args = kind === "function_call" ? fc.arguments! : JSON.stringify({ input: typeof fc.input === "string" ? fc.input : "" });
        const call: ToolCall = { id: fc.call_id, type: "function", function: { name, arguments: args } };
        const last = out[out.length - 1];
        // An assistant's text and the calls after it are one chat turn (Responses lists them as separate items).
        if (last?.role === "assistant") (last.tool_calls ??= []).push(call);
        else out.push({ role: "assistant", content: null, tool_calls: [call] });
        break;
      }
      case "function_call_output":
      case "custom_tool_call_output": {
        const o = item as FunctionCallOutputItem;
        out.push({ role: "tool", tool_call_id: String(o.call_id), content: toolOutputText(o.output ?? "") });
        break;
      }
      default:
        // reasoning items (no use to a non-native target) and item types chat has no form for
        break;
    }
  }
}

function mcpToolOf(t: McpToolParam, at: string): McpTool {
  const { allowed_tools, require_approval, ...rest } = t;
  const tool: McpTool = { ...rest, type: "mcp", server_label: t.server_label };
  if (Array.isArray(allowed_tools)) tool.allowed_tools = allowed_tools;
  else if (allowed_tools?.tool_names) tool.allowed_tools = allowed_tools.tool_names;
  if (require_approval === "never" || require_approval === "always") tool.require_approval = require_approval as "never" | "always";
  else if (require_approval != null)
    throw bad(`${at}.require_approval`, `Alloy runs MCP tools with require_approval "never" or "always"; per-tool approval filters are not supported`);
  return tool;
}

/**
 * Tools for a chat target: function tools as they are, namespace members and custom tools flattened (tools.ts),
 * `mcp` entries for the MCP planner; other built-in types are left out and named in `dropped`. `extra` holds the
 * tools of `additional_tools` input items (Codex's default model sends its tools there).
 */
function toolsOf(tools: readonly ToolParam[] | undefined, extra: readonly unknown[]): { tools: (FunctionTool | McpTool)[]; dropped: string[]; names: ToolNames } {
  const out: (FunctionTool | McpTool)[] = [];
  const dropped: string[] = [];
  const names: ToolNames = new Map();
  const seen = new Set<string>();
  const add = (f: FunctionTool) => {
    // The same tool twice (a namespace repeated in additional_tools) would be refused upstream.
    if (seen.has(f.function.name)) return;
    seen.add(f.function.name);
    out.push(f);
  };
  const one = (t: ToolParam, i: number | undefined) => {
    if (t.type === "function" || t.type === "custom") {
      const f = flattenTool(t as never, undefined, names);
      if (f) add(f);
    } else if (t.type === "namespace") for (const f of flattenNamespace(t as never, names, dropped)) add(f);
    else if (t.type === "mcp" && i !== undefined) out.push(mcpToolOf(t as McpToolParam, `tools[${i}]`));
    else if (!dropped.includes(t.type)) dropped.push(t.type);
  };
  (tools ?? []).forEach((t, i) => one(t, i));
  for (const t of extra) if (t && typeof t === "object" && typeof (t as { type?: unknown }).type === "string") one(t as ToolParam, undefined);
  return { tools: out, dropped, names };
}

/** The tools of `additional_tools` input items (this turn's; earlier turns' tools are not offered again). */
function additionalTools(input: Req["input"]): unknown[] {
  if (!Array.isArray(input)) return [];
  const out: unknown[] = [];
  for (const item of input) {
    const o = item as { type?: unknown; tools?: unknown };
    if (o.type === "additional_tools" && Array.isArray(o.tools)) out.push(...o.tools);
  }
  return out;
}

function toolChoiceOf(tc: ToolChoiceParam | undefined): ToolChoice | undefined {
  if (tc === undefined || typeof tc === "string") return tc;
  if (tc.type === "function" || tc.type === "custom") {
    const named = tc as { name: string; namespace?: unknown };
    return { type: "function", function: { name: flatName(typeof named.namespace === "string" ? named.namespace : undefined, named.name) } };
  }
  const mode = (tc as { mode?: unknown }).mode;
  if (tc.type === "allowed_tools" && (mode === "auto" || mode === "required")) return mode;
  if (tc.type === "mcp") return "required";
  // A forced built-in tool: that tool is left out, so the model chooses among the rest.
  return "auto";
}

/**
 * The unified chat request for a Responses request. `prior` holds the stored input and output items of earlier
 * turns, oldest first ([] when there is no previous_response_id); `instructions` of those turns do not carry over.
 */
export function toChatRequest(req: Req, prior: readonly ResponseItem[], opts: DecodeOptions = {}): ChatTranslation {
  const ids = new ItemIds(opts.responseId ?? "resp_local", "i");
  const inputItems: ResponseItem[] =
    typeof req.input === "string"
      ? [{ type: "message", id: ids.next("msg"), role: "user", content: [{ type: "input_text", text: req.input }] }]
      : (req.input ?? []).map((item) => withId(item, ids));

  const byId = new Map<string, ResponseItem>();
  for (const item of prior) {
    const id = (item as { id?: unknown }).id;
    if (typeof id === "string") byId.set(id, item);
  }
  const messages: ChatMessage[] = [];
  if (req.instructions) messages.push({ role: "system", content: req.instructions });
  const turn: readonly ResponseItem[] = typeof req.input === "string" ? [{ type: "message", role: "user", content: req.input }] : (req.input ?? []);
  messagesOf([...prior, ...turn], prior.length, byId, messages);
  if (!messages.some((m) => m.role !== "system"))
    throw bad("input", "expected at least one message (a string, or message items)");

  // prompt_cache_key and safety_identifier are Chat Completions fields too, outside the unified schema's list.
  const chat: ChatRequest & { prompt_cache_key?: string; safety_identifier?: string } = { model: req.model, messages };
  const { tools, dropped, names: toolNames } = toolsOf(req.tools, additionalTools(req.input));
  if (tools.length) {
    chat.tools = tools;
    const choice = toolChoiceOf(req.tool_choice);
    if (choice !== undefined) chat.tool_choice = choice;
    if (req.parallel_tool_calls != null) chat.parallel_tool_calls = req.parallel_tool_calls;
  }
  const format = req.text?.format;
  if (format?.type === "json_object") chat.response_format = { type: "json_object" };
  else if (format?.type === "json_schema") {
    const f = format as Extract<typeof format, { type: "json_schema" }>;
    const js: { name: string; schema: Record<string, unknown>; description?: string; strict?: boolean | null } = { name: f.name, schema: f.schema };
    if (f.description !== undefined) js.description = f.description;
    if (f.strict != null) js.strict = f.strict;
    chat.response_format = { type: "json_schema", json_schema: js };
  }
  if (req.max_output_tokens != null) chat.max_completion_tokens = req.max_output_tokens;
  if (req.reasoning?.effort != null) chat.reasoning_effort = req.reasoning.effort;
  if (req.temperature != null) chat.temperature = req.temperature;
  if (req.top_p != null) chat.top_p = req.top_p;
  if (req.user !== undefined) chat.user = req.user;
  if (req.service_tier != null) chat.service_tier = req.service_tier;
  if (req.prompt_cache_key !== undefined) chat.prompt_cache_key = req.prompt_cache_key;
  if (req.safety_identifier !== undefined) chat.safety_identifier = req.safety_identifier;
  // `store` and `metadata` are Alloy's (its response store), not the upstream's.
  if (req.stream === true) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return { chat, inputItems, dropped, toolNames };
}

function withId(item: InputItem, ids: ItemIds): ResponseItem {
  const kind = itemKind(item);
  if (kind === "item_reference" || typeof (item as { id?: unknown }).id === "string") return item;
  const prefix = kind === "message" ? "msg" : kind === "function_call" ? "fc" : kind === "reasoning" ? "rs" : "item";
  return { ...item, ...(kind === "message" && (item as { type?: unknown }).type === undefined ? { type: "message" as const } : {}), id: ids.next(prefix) } as ResponseItem;
}
