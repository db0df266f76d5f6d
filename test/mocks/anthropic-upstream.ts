// A mock Anthropic Messages API on a real socket. It rejects what api.anthropic.com rejects (with Anthropic's 400
// shape), checks x-api-key and anthropic-version, answers byte-exact JSON and SSE (`event: message_start` …
// `message_stop`, with a ping), records every call and lets a test script each answer.
import { CallLog, type LoggedCall } from "./call-log.ts";
import { frameStream, type StreamOptions } from "./frames.ts";

export interface AnthropicCall extends LoggedCall {
  path: string;
  body: any;
  /** The validation error the mock answered with, when it rejected the request. */
  rejected?: string;
}

export type AnthropicScript = (call: AnthropicCall, signal: AbortSignal) => Response | Promise<Response>;

export interface AnthropicMock {
  url: string;
  calls: AnthropicCall[];
  script: AnthropicScript;
  waitForCall(n: number): Promise<AnthropicCall>;
  /** Resolves when some call gets aborted by the gateway (client gone, timeout). */
  waitForAbort(): Promise<AnthropicCall>;
  stop(): void;
}

let idSeq = 0;

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "request-id": `req_mock${++idSeq}`, ...headers },
  });
}

export function anthropicError(status: number, type: string, message: string, headers: Record<string, string> = {}): Response {
  return jsonResponse({ type: "error", error: { type, message } }, status, headers);
}

export type Block =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "redacted_thinking"; data: string }
  | { type: string; [k: string]: unknown };

export interface MessageExtra {
  stop_reason?: string;
  stop_sequence?: string | null;
  usage?: Record<string, number>;
  id?: string;
}

/** A Messages API response body, as api.anthropic.com formats it. */
export function message(model: string, content: Block[], extra: MessageExtra = {}) {
  return {
    id: extra.id ?? `msg_mock${++idSeq}`,
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: extra.stop_reason ?? (content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn"),
    stop_sequence: extra.stop_sequence ?? null,
    usage: extra.usage ?? { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 5 },
  };
}

/** One SSE frame exactly as Anthropic writes it. */
export function frame(event: { type: string; [k: string]: unknown }): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
const PING = 'event: ping\ndata: {"type": "ping"}\n\n';

/** The event stream Anthropic sends for a message: text in word pieces, tool input in JSON fragments, a ping. */
export function eventsFor(msg: ReturnType<typeof message>): string[] {
  const out: string[] = [];
  const usage = msg.usage;
  out.push(frame({ type: "message_start", message: { ...msg, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }));
  msg.content.forEach((b, index) => {
    if (b.type === "text") {
      out.push(frame({ type: "content_block_start", index, content_block: { type: "text", text: "" } }));
      if (index === 0) out.push(PING);
      for (const piece of (b as { text: string }).text.match(/\s*\S+\s*/g) ?? [])
        out.push(frame({ type: "content_block_delta", index, delta: { type: "text_delta", text: piece } }));
    } else if (b.type === "tool_use") {
      const t = b as { id: string; name: string; input: unknown };
      out.push(frame({ type: "content_block_start", index, content_block: { type: "tool_use", id: t.id, name: t.name, input: {} } }));
      if (index === 0) out.push(PING);
      const json = JSON.stringify(t.input);
      const cut = Math.ceil(json.length / 2);
      for (const part of ["", json.slice(0, cut), json.slice(cut)])
        out.push(frame({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: part } }));
    } else if (b.type === "thinking") {
      const t = b as { thinking: string; signature: string };
      out.push(frame({ type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }));
      out.push(frame({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: t.thinking } }));
      out.push(frame({ type: "content_block_delta", index, delta: { type: "signature_delta", signature: t.signature } }));
    } else {
      out.push(frame({ type: "content_block_start", index, content_block: b }));
    }
    out.push(frame({ type: "content_block_stop", index }));
  });
  out.push(frame({ type: "message_delta", delta: { stop_reason: msg.stop_reason, stop_sequence: msg.stop_sequence }, usage }));
  out.push(frame({ type: "message_stop" }));
  return out;
}

/** An SSE response from pre-rendered frames; `hangAfter` stops sending (until abort) after that many frames. */
export function sseResponse(frames: string[], opts: StreamOptions = {}): Response {
  return new Response(frameStream(frames, opts), { headers: { "content-type": "text/event-stream; charset=utf-8", "request-id": `req_mock${++idSeq}` } });
}

/** JSON or SSE for a message, whichever the request asked for. */
export function reply(call: AnthropicCall, msg: ReturnType<typeof message>): Response {
  return call.body.stream ? sseResponse(eventsFor(msg)) : jsonResponse(msg);
}

/** Default: the named tool when tool_choice forces one, the tool result echoed after a tool turn, else a greeting. */
export const defaultScript: AnthropicScript = (call) => {
  const b = call.body;
  if (b.tool_choice?.type === "tool")
    return reply(call, message(b.model, [{ type: "tool_use", id: "toolu_mock1", name: b.tool_choice.name, input: { city: "Paris" } }]));
  const last = b.messages[b.messages.length - 1];
  const result = Array.isArray(last.content) ? last.content.find((x: any) => x.type === "tool_result") : undefined;
  if (result) return reply(call, message(b.model, [{ type: "text", text: `Tool said: ${JSON.stringify(result.content ?? "")}` }]));
  return reply(call, message(b.model, [{ type: "text", text: "Hello from Claude" }]));
};

const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/** What the real Messages API rejects, with (close to) its wording. Returns the error message, or undefined. */
export function validateMessages(b: any): string | undefined {
  if (!b || typeof b !== "object" || Array.isArray(b)) return "body: Input should be an object";
  if (typeof b.model !== "string" || !b.model) return "model: Field required";
  if (b.max_tokens === undefined) return "max_tokens: Field required";
  if (!Number.isInteger(b.max_tokens) || b.max_tokens < 1) return "max_tokens: Input should be a valid integer greater than or equal to 1";
  if (!Array.isArray(b.messages) || b.messages.length === 0) return "messages: at least one message is required";
  if (b.temperature !== undefined && (typeof b.temperature !== "number" || b.temperature < 0 || b.temperature > 1))
    return "temperature: Input should be less than or equal to 1";
  if (b.system !== undefined && typeof b.system !== "string" && !Array.isArray(b.system)) return "system: Input should be a valid string or list";
  if (b.stop_sequences !== undefined && (!Array.isArray(b.stop_sequences) || b.stop_sequences.some((s: unknown) => typeof s !== "string")))
    return "stop_sequences: Input should be a valid list of strings";
  if (b.metadata !== undefined && Object.keys(b.metadata).some((k) => k !== "user_id")) return "metadata: Extra inputs are not permitted";
  if (b.tool_choice !== undefined && !(Array.isArray(b.tools) && b.tools.length)) return "tool_choice: tool_choice may only be specified while providing tools";
  for (const [i, t] of (b.tools ?? []).entries()) {
    if (typeof t.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.name)) return `tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
    if (t.input_schema?.type !== "object") return `tools.${i}.input_schema.type: Input should be 'object'`;
  }
  // What the API documents today (betas add more: context_management, output_config, container, mcp_servers …).
  const ALLOWED_TOP = ["model", "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p", "top_k", "metadata", "tools", "tool_choice", "stream", "thinking", "context_management", "output_config", "service_tier", "container", "mcp_servers"];
  for (const k of Object.keys(b)) if (!ALLOWED_TOP.includes(k)) return `${k}: Extra inputs are not permitted`;

  let prevRole: string | undefined;
  let prevToolUses: string[] = [];
  for (const [i, m] of b.messages.entries()) {
    if (m.role === "system")
      return `messages.${i}.role: Unexpected role "system". The Messages API accepts a top-level \`system\` parameter, not "system" as an input message role.`;
    if (m.role !== "user" && m.role !== "assistant") return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (m.role === prevRole) return `messages: roles must alternate between "user" and "assistant", but found multiple "${m.role}" roles in a row`;
    const blocks = typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
    if (!Array.isArray(blocks)) return `messages.${i}.content: Input should be a valid list`;
    const last = i === b.messages.length - 1;
    if (blocks.length === 0 && !(last && m.role === "assistant")) return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    const results: string[] = [];
    const uses: string[] = [];
    for (const [j, c] of blocks.entries()) {
      const where = `messages.${i}.content.${j}`;
      switch (c?.type) {
        case "text":
          if (typeof c.text !== "string" || c.text === "") return `${where}.text: text content blocks must be non-empty`;
          if (!c.text.trim()) return `${where}.text: text content blocks must contain non-whitespace text`;
          if (last && m.role === "assistant" && j === blocks.length - 1 && /\s$/.test(c.text))
            return "final assistant content cannot end with trailing whitespace";
          break;
        case "image":
          if (m.role !== "user") return `${where}: images are only allowed in user messages`;
          if (c.source?.type === "base64") {
            if (!IMAGE_TYPES.includes(c.source.media_type)) return `${where}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
            if (typeof c.source.data !== "string" || !c.source.data) return `${where}.source.base64.data: Field required`;
          } else if (c.source?.type === "url") {
            if (typeof c.source.url !== "string" || !/^https?:\/\//.test(c.source.url)) return `${where}.source.url.url: invalid URL`;
          } else return `${where}.source: Input tag does not match any of the expected tags: 'base64', 'url'`;
          break;
        case "document":
          if (c.source?.media_type !== "application/pdf") return `${where}.source.media_type: Input should be 'application/pdf'`;
          break;
        case "tool_use":
          if (m.role !== "assistant") return `${where}: tool_use blocks are only allowed in assistant messages`;
          if (typeof c.id !== "string" || typeof c.name !== "string") return `${where}: tool_use needs id and name`;
          if (!c.input || typeof c.input !== "object" || Array.isArray(c.input)) return `${where}.input: Input should be a valid dictionary`;
          uses.push(c.id);
          break;
        case "tool_result":
          if (m.role !== "user") return `${where}: tool_result blocks are only allowed in user messages`;
          if (!prevToolUses.includes(c.tool_use_id))
            return `${where}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${c.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
          if (typeof c.content === "string" && c.content === "") return `${where}.content: text content blocks must be non-empty`;
          results.push(c.tool_use_id);
          break;
        case "thinking":
          if (m.role !== "assistant") return `${where}: thinking blocks are only allowed in assistant messages`;
          if (typeof c.thinking !== "string") return `${where}.thinking: Field required`;
          if (typeof c.signature !== "string" || c.signature === "") return `${where}: Invalid \`signature\` in \`thinking\` block`;
          break;
        case "redacted_thinking":
          if (typeof c.data !== "string" || !c.data) return `${where}.data: Field required`;
          break;
        default:
          return `${where}.type: Input tag '${c?.type}' found using 'type' does not match any of the expected tags`;
      }
    }
    const missing = prevToolUses.filter((id) => !results.includes(id));
    if (missing.length)
      return `messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    prevRole = m.role;
    prevToolUses = uses;
  }
  return undefined;
}

export function startAnthropicMock(opts: { apiKey?: string; script?: AnthropicScript } = {}): AnthropicMock {
  const apiKey = opts.apiKey ?? "sk-ant-upstream-secret";
  const log = new CallLog<AnthropicCall>();
  const mock: AnthropicMock = {
    url: "",
    calls: log.calls,
    script: opts.script ?? defaultScript,
    waitForCall: (n) => log.waitForCall(n),
    waitForAbort: () => log.waitForAbort(),
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const headers = CallLog.headersOf(req);
      let body: any;
      try {
        body = await req.json();
      } catch {
        body = undefined;
      }
      const call = log.add({ n: log.next, path: url.pathname, headers, body, aborted: false }, req.signal);
      const reject = (status: number, type: string, message: string) => {
        call.rejected = message;
        return anthropicError(status, type, message);
      };
      if (req.method !== "POST" || url.pathname !== "/v1/messages") return reject(404, "not_found_error", "Not Found");
      if (headers["x-api-key"] !== apiKey) return reject(401, "authentication_error", "invalid x-api-key");
      if (!headers["anthropic-version"]) return reject(400, "invalid_request_error", "anthropic-version: header is required");
      if (body === undefined) return reject(400, "invalid_request_error", "There was an issue with the JSON body of your request.");
      const invalid = validateMessages(body);
      if (invalid) return reject(400, "invalid_request_error", invalid);
      return await mock.script(call, req.signal);
    },
  });
  mock.url = `http://127.0.0.1:${server.port}`;
  return mock;
}
