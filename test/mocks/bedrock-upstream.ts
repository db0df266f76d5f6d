// A mock Bedrock runtime endpoint on a real socket: `POST /model/{modelId}/converse` and `/converse-stream`.
// It checks the SigV4 Authorization header the way the service would reject it (shape, access key id, region/bedrock
// scope, x-amz-date), rejects malformed Converse bodies with the service's 400 ValidationException, answers Converse
// JSON, and streams real `application/vnd.amazon.eventstream` frames (events and exceptions, mid-stream included).
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { CallLog, type LoggedCall } from "./call-log.ts";
import { frameStream, type StreamOptions } from "./frames.ts";

export interface BedrockCall extends LoggedCall {
  operation: "converse" | "converse-stream";
  /** URL-decoded: model ids, inference-profile ids and ARNs come back as sent. */
  modelId: string;
  body: any;
}

export type BedrockScript = (call: BedrockCall, signal: AbortSignal) => Response | Promise<Response>;

export interface BedrockMock {
  url: string;
  calls: BedrockCall[];
  script: BedrockScript;
  /** Requests refused before the script ran (bad signature, malformed body), with the reason. */
  rejected: Array<{ status: number; type: string; message: string }>;
  waitForCall(n: number): Promise<BedrockCall>;
  /** Resolves when call number n (any call, without n) gets aborted by the gateway. */
  waitForAbort(n?: number): Promise<BedrockCall>;
  stop(): void;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);
let seq = 0;
const requestId = () => `00000000-0000-4000-8000-${(++seq).toString(16).padStart(12, "0")}`;

// ---------------------------------------------------------------------------------------------------------------
// Answers

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "x-amzn-requestid": requestId(), ...headers },
  });
}

/** An error the way Bedrock sends it: status, `x-amzn-errortype` (with the coral namespace suffix) and `{"message"}`. */
export function bedrockError(status: number, type: string, message: string): Response {
  return jsonResponse({ message }, status, { "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
}

export interface MockUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

function usageBody(u: MockUsage) {
  return { ...u, totalTokens: u.inputTokens + u.outputTokens + (u.cacheReadInputTokens ?? 0) + (u.cacheWriteInputTokens ?? 0) };
}

/** A Converse response body as in the AWS docs. */
export function converseBody(content: unknown[], stopReason = "end_turn", usage: MockUsage = { inputTokens: 12, outputTokens: 5 }) {
  return {
    output: { message: { role: "assistant", content } },
    stopReason,
    usage: usageBody(usage),
    metrics: { latencyMs: 321 },
  };
}

export type Frame = { event: string; body: Record<string, unknown> } | { exception: string; message: string };

/** One binary event-stream message. Events carry the service's random `p` padding field, which clients ignore. */
export function encodeFrame(f: Frame): Uint8Array {
  const str = (value: string) => ({ type: "string" as const, value });
  if ("event" in f)
    return codec.encode({
      headers: { ":event-type": str(f.event), ":content-type": str("application/json"), ":message-type": str("event") },
      body: fromUtf8(JSON.stringify({ ...f.body, p: "abcdefghijklmnopqrstuvwxyzABCDEF".slice(0, 8 + (seq % 20)) })),
    });
  return codec.encode({
    headers: { ":exception-type": str(f.exception), ":content-type": str("application/json"), ":message-type": str("exception") },
    body: fromUtf8(JSON.stringify({ message: f.message })),
  });
}

/** The frames of a streamed text answer: messageStart, one text block in pieces, messageStop, metadata. */
export function textFrames(pieces: string[], stopReason = "end_turn", usage: MockUsage = { inputTokens: 12, outputTokens: pieces.length }): Frame[] {
  return [
    { event: "messageStart", body: { role: "assistant" } },
    ...pieces.map((text): Frame => ({ event: "contentBlockDelta", body: { contentBlockIndex: 0, delta: { text } } })),
    { event: "contentBlockStop", body: { contentBlockIndex: 0 } },
    { event: "messageStop", body: { stopReason } },
    { event: "metadata", body: { usage: usageBody(usage), metrics: { latencyMs: 400 } } },
  ];
}

/** Text first (block 0), then each tool call as its own block with its input in fragments, as Claude on Bedrock does. */
export function toolFrames(
  text: string,
  calls: Array<{ id: string; name: string; input: string[] }>,
  usage: MockUsage = { inputTokens: 30, outputTokens: 9 },
): Frame[] {
  const out: Frame[] = [{ event: "messageStart", body: { role: "assistant" } }];
  let block = 0;
  if (text) {
    out.push({ event: "contentBlockDelta", body: { contentBlockIndex: block, delta: { text } } });
    out.push({ event: "contentBlockStop", body: { contentBlockIndex: block++ } });
  }
  for (const c of calls) {
    out.push({ event: "contentBlockStart", body: { contentBlockIndex: block, start: { toolUse: { toolUseId: c.id, name: c.name } } } });
    for (const input of c.input) out.push({ event: "contentBlockDelta", body: { contentBlockIndex: block, delta: { toolUse: { input } } } });
    out.push({ event: "contentBlockStop", body: { contentBlockIndex: block++ } });
  }
  out.push({ event: "messageStop", body: { stopReason: "tool_use" } });
  out.push({ event: "metadata", body: { usage: usageBody(usage), metrics: { latencyMs: 500 } } });
  return out;
}

/** An event-stream response. `hangAfter`: send that many frames, then hold the stream open until the caller aborts. */
export function eventStreamResponse(frames: Frame[], opts: StreamOptions = {}): Response {
  return new Response(frameStream(frames.map(encodeFrame), opts), {
    headers: { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": requestId() },
  });
}

/** Default behaviour: a tool call when toolChoice names a tool, else "Hello from Bedrock", as JSON or frames. */
export const defaultScript: BedrockScript = (call) => {
  const named: string | undefined = call.body.toolConfig?.toolChoice?.tool?.name;
  const stream = call.operation === "converse-stream";
  if (named) {
    if (stream) return eventStreamResponse(toolFrames("", [{ id: "tooluse_mock1", name: named, input: ['{"sign"', ': "WZPZ"}'] }]));
    return jsonResponse(converseBody([{ toolUse: { toolUseId: "tooluse_mock1", name: named, input: { sign: "WZPZ" } } }], "tool_use"));
  }
  if (stream) return eventStreamResponse(textFrames(["Hello", " from", " Bedrock"]));
  return jsonResponse(converseBody([{ text: "Hello from Bedrock" }]));
};

// ---------------------------------------------------------------------------------------------------------------
// What the service refuses

const SIGV4 =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9-]+(?:;[a-z0-9-]+)*), ?Signature=([0-9a-f]{64})$/;

/** The SigV4 checks: why the request is refused, or undefined. */
export function checkSignature(headers: Headers, accessKeyId: string, region: string): { status: number; type: string; message: string } | undefined {
  const auth = headers.get("authorization");
  const date = headers.get("x-amz-date");
  if (!auth) return { status: 403, type: "MissingAuthenticationTokenException", message: "Missing Authentication Token" };
  const m = SIGV4.exec(auth);
  if (!m) return { status: 403, type: "IncompleteSignatureException", message: "Authorization header requires Credential, SignedHeaders and Signature" };
  const [, keyId, day, scopeRegion, service, signed] = m;
  if (!date || !/^\d{8}T\d{6}Z$/.test(date)) return { status: 403, type: "IncompleteSignatureException", message: "Missing or malformed X-Amz-Date" };
  if (keyId !== accessKeyId) return { status: 403, type: "UnrecognizedClientException", message: "The security token included in the request is invalid." };
  if (day !== date.slice(0, 8)) return { status: 403, type: "InvalidSignatureException", message: "Credential date does not match X-Amz-Date" };
  if (scopeRegion !== region || service !== "bedrock")
    return { status: 403, type: "InvalidSignatureException", message: `Credential should be scoped to a valid region and service 'bedrock', not '${scopeRegion}/${service}'` };
  const names = signed!.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date"))
    return { status: 403, type: "InvalidSignatureException", message: "SignedHeaders must include host and x-amz-date" };
  return undefined;
}

const ROLES = new Set(["user", "assistant"]);
const FORMATS = new Set(["png", "jpeg", "gif", "webp"]);

/** The Converse body checks the service applies before any model runs; the message, or undefined when valid. */
export function validateConverse(body: any): string | undefined {
  if (!body || typeof body !== "object") return "Malformed input request, please reformat your input and try again.";
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
  if (msgs[0]?.role !== "user") return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
  const usesTools = msgs.some((m: any) => Array.isArray(m?.content) && m.content.some((b: any) => b?.toolUse || b?.toolResult));
  if (usesTools && !body.toolConfig) return "The toolConfig field must be defined when using toolUse and toolResult content blocks.";
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (!ROLES.has(m?.role)) return `Value '${m?.role}' at 'messages.${i + 1}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]`;
    if (i > 0 && msgs[i - 1].role === m.role)
      return "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.";
    if (!Array.isArray(m.content) || m.content.length === 0)
      return `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`;
    const prevToolUses = new Set<string>();
    if (i > 0) for (const b of msgs[i - 1].content ?? []) if (b?.toolUse) prevToolUses.add(b.toolUse.toolUseId);
    for (let j = 0; j < m.content.length; j++) {
      const b = m.content[j];
      const keys = b && typeof b === "object" ? Object.keys(b) : [];
      if (keys.length !== 1) return `ContentBlock at messages.${i}.content.${j} must set exactly one member`;
      if ("text" in b && (typeof b.text !== "string" || !b.text.trim()))
        return `The text field in the ContentBlock object at messages.${i}.content.${j} is blank. Add text to the text field, and try again.`;
      if ("image" in b) {
        if (!FORMATS.has(b.image?.format)) return `Invalid image format at messages.${i}.content.${j}`;
        if (typeof b.image?.source?.bytes !== "string" || !b.image.source.bytes) return `The image at messages.${i}.content.${j} has no bytes.`;
      }
      if ("toolUse" in b) {
        if (m.role !== "assistant") return `toolUse blocks are only allowed in assistant messages (messages.${i}.content.${j})`;
        const u = b.toolUse;
        if (!u?.toolUseId || !u?.name || !u.input || typeof u.input !== "object" || Array.isArray(u.input))
          return `The toolUse block at messages.${i}.content.${j} needs toolUseId, name and an object input.`;
      }
      if ("toolResult" in b) {
        if (m.role !== "user") return `toolResult blocks are only allowed in user messages (messages.${i}.content.${j})`;
        if (!prevToolUses.has(b.toolResult?.toolUseId))
          return `The toolResult block at messages.${i}.content.${j} has toolUseId '${b.toolResult?.toolUseId}' which matches no toolUse block in the previous turn.`;
        if (!Array.isArray(b.toolResult.content)) return `The toolResult block at messages.${i}.content.${j} needs content.`;
      }
    }
    // Every toolUse of an assistant turn must be answered in the next user turn.
    if (m.role === "assistant" && i + 1 < msgs.length) {
      const answered = new Set((msgs[i + 1].content ?? []).filter((b: any) => b?.toolResult).map((b: any) => b.toolResult.toolUseId));
      for (const b of m.content) if (b.toolUse && !answered.has(b.toolUse.toolUseId))
        return `Expected toolResult blocks at messages.${i + 1}.content for the following Ids: ${b.toolUse.toolUseId}`;
    }
  }
  if (body.system !== undefined) {
    if (!Array.isArray(body.system)) return "system must be a list";
    for (const s of body.system) if (typeof s?.text === "string" && !s.text.trim()) return "The text field in a SystemContentBlock is blank.";
  }
  const ic = body.inferenceConfig;
  if (ic?.maxTokens !== undefined && !(Number.isInteger(ic.maxTokens) && ic.maxTokens >= 1))
    return "The maximum tokens you requested exceeds the model limit or is not a positive integer.";
  if (ic?.temperature !== undefined && (ic.temperature < 0 || ic.temperature > 1)) return "temperature: range: 0..1";
  const tc = body.toolConfig;
  if (tc !== undefined) {
    if (!Array.isArray(tc.tools) || tc.tools.length === 0) return "The toolConfig field must contain at least one tool.";
    for (const t of tc.tools) if (!t?.toolSpec?.name || typeof t.toolSpec.inputSchema?.json !== "object") return "Each tool needs a toolSpec with name and inputSchema.json.";
    if (tc.toolChoice !== undefined && Object.keys(tc.toolChoice).length !== 1) return "toolChoice must set exactly one of auto, any, tool.";
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The server

export function startBedrockMock(opts: { accessKeyId: string; region: string; script?: BedrockScript }): BedrockMock {
  const log = new CallLog<BedrockCall>();
  const mock: BedrockMock = {
    url: "",
    calls: log.calls,
    rejected: [],
    script: opts.script ?? defaultScript,
    waitForCall: (n) => log.waitForCall(n),
    waitForAbort: (n) => log.waitForAbort(n),
    stop: () => server.stop(true),
  };
  const refuse = (status: number, type: string, message: string) => {
    mock.rejected.push({ status, type, message });
    return bedrockError(status, type, message);
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(url.pathname);
      if (req.method !== "POST" || !m) return refuse(404, "UnknownOperationException", `No operation at ${req.method} ${url.pathname}`);
      const sig = checkSignature(req.headers, opts.accessKeyId, opts.region);
      if (sig) return refuse(sig.status, sig.type, sig.message);
      let body: any;
      try {
        body = await req.json();
      } catch {
        return refuse(400, "SerializationException", "Malformed input request, please reformat your input and try again.");
      }
      const invalid = validateConverse(body);
      if (invalid) return refuse(400, "ValidationException", invalid);
      const call = log.add(
        {
          n: log.next,
          operation: m[2] as BedrockCall["operation"],
          modelId: decodeURIComponent(m[1]!),
          headers: CallLog.headersOf(req),
          body,
          aborted: false,
        },
        req.signal,
      );
      return mock.script(call, req.signal);
    },
  });
  mock.url = `http://127.0.0.1:${server.port}`;
  return mock;
}
