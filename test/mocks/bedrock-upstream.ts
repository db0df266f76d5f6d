// A mock Bedrock runtime endpoint on a real socket: `POST /model/{modelId}/converse`, `/converse-stream`, `/invoke`,
// `/invoke-with-response-stream` and `/count-tokens`. Claude model ids take Claude's Bedrock Messages body on
// InvokeModel and CountTokens, checked as the service does (no `model`/`stream`, `anthropic_version` required,
// `anthropic_beta` a list, then the Messages rules of the Anthropic mock). It checks the SigV4 Authorization header the way the service would reject it
// (shape, access key id, region/bedrock scope, x-amz-date and its skew, the body hash and — given the secret — the
// signature itself, recomputed by the AWS SDK's own SignatureV4 over the signed headers as received), rejects
// malformed Converse bodies with the service's 400 ValidationException, answers Converse JSON, and streams real
// `application/vnd.amazon.eventstream` frames (events and exceptions, mid-stream included).
import { Sha256 } from "@smithy/core/checksum";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { SignatureV4 } from "@smithy/signature-v4";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { message as anthropicMessage, validateMessages as validateAnthropicMessages } from "./anthropic-upstream.ts";
import { CallLog, type LoggedCall } from "./call-log.ts";
import { frameStream, type StreamOptions } from "./frames.ts";

export interface BedrockCall extends LoggedCall {
  operation: "converse" | "converse-stream" | "invoke" | "invoke-with-response-stream" | "count-tokens";
  /** URL-decoded: model ids, inference-profile ids and ARNs come back as sent. */
  modelId: string;
  body: any;
  /** count-tokens: the InvokeModel body inside `input.invokeModel.body`, decoded. */
  countBody?: any;
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

/** InvokeModelWithResponseStream frames: each native event as a `chunk` whose `bytes` are its JSON in base64. */
export function chunkFrames(events: unknown[]): Frame[] {
  return events.map((e) => ({ event: "chunk", body: { bytes: Buffer.from(JSON.stringify(e)).toString("base64") } }));
}

/** Claude's native (Anthropic Messages) stream events for a text answer, as InvokeModelWithResponseStream carries them. */
export function anthropicEvents(pieces: string[], model = "claude-mock"): unknown[] {
  return [
    { type: "message_start", message: { id: "msg_bdrk_mock1", type: "message", role: "assistant", model, content: [], stop_reason: null, usage: { input_tokens: 7, output_tokens: 1 } } },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    ...pieces.map((text) => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })),
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: pieces.length } },
    { type: "message_stop", "amazon-bedrock-invocationMetrics": { inputTokenCount: 7, outputTokenCount: pieces.length } },
  ];
}

const CLAUDE_ID = /(?:^|[/.])anthropic\.claude/;

/** Claude's answer on InvokeModel: the tool tool_choice names, the tool result echoed after a tool turn, else a greeting. */
export function claudeAnswer(body: any) {
  const model = "claude-bedrock-mock";
  if (body.tool_choice?.type === "tool")
    return anthropicMessage(model, [{ type: "tool_use", id: "toolu_bdrk1", name: body.tool_choice.name, input: { city: "Paris" } }], { id: "msg_bdrk_mock1" });
  const last = body.messages[body.messages.length - 1];
  const result = Array.isArray(last.content) ? last.content.find((x: any) => x.type === "tool_result") : undefined;
  const text = result ? `Tool said: ${JSON.stringify(result.content ?? "")}` : "Hello from Claude on Bedrock";
  return anthropicMessage(model, [{ type: "text", text }], { id: "msg_bdrk_mock1", usage: { input_tokens: 7, output_tokens: 6 } });
}

/** A Claude message as InvokeModelWithResponseStream's chunks: Anthropic's events, the last with Bedrock's metrics. */
export function claudeEvents(msg: ReturnType<typeof anthropicMessage>): unknown[] {
  const out: unknown[] = [{ type: "message_start", message: { ...msg, content: [], stop_reason: null, usage: { ...msg.usage, output_tokens: 1 } } }];
  msg.content.forEach((b: any, index) => {
    if (b.type === "text") {
      out.push({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
      for (const piece of b.text.match(/\s*\S+/g) ?? []) out.push({ type: "content_block_delta", index, delta: { type: "text_delta", text: piece } });
    } else {
      out.push({ type: "content_block_start", index, content_block: { ...b, input: {} } });
      out.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(b.input) } });
    }
    out.push({ type: "content_block_stop", index });
  });
  out.push({ type: "message_delta", delta: { stop_reason: msg.stop_reason, stop_sequence: null }, usage: { output_tokens: msg.usage.output_tokens } });
  out.push({ type: "message_stop", "amazon-bedrock-invocationMetrics": { inputTokenCount: msg.usage.input_tokens, outputTokenCount: msg.usage.output_tokens } });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Embedding models on InvokeModel, as their model cards document them

const TITAN_EMBED = /(^|[./])amazon\.titan-embed-text-v2/;
const COHERE_EMBED = /(^|[./])cohere\.embed-(english|multilingual)-v3/;

/** A deterministic vector for a text (unit length when `normalize`): tests can recompute what the gateway should return. */
export function mockEmbedding(text: string, dims: number, normalize = true): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  const v = Array.from({ length: dims }, (_, i) => Math.sin(h + i * 7.13) * 3);
  const n = normalize ? Math.sqrt(v.reduce((a, x) => a + x * x, 0)) : 1;
  return v.map((x) => Math.fround(x / n));
}

/** Token count the mock reports: words, like the mock provider. */
export const mockTokens = (text: string) => text.split(/\s+/).filter(Boolean).length;

const extraneous = (body: Record<string, unknown>, allowed: string[]) => {
  const extra = Object.keys(body).find((k) => !allowed.includes(k));
  return extra && `Malformed input request: extraneous key [${extra}] is not permitted, please reformat your input and try again.`;
};

/** Titan Text Embeddings v2 / Cohere Embed v3 request checks; the message, or undefined when valid (or not an embedding model). */
export function validateEmbedInvoke(modelId: string, body: any): string | undefined {
  if (TITAN_EMBED.test(modelId)) {
    if (!body || typeof body !== "object" || Array.isArray(body)) return "Malformed input request, please reformat your input and try again.";
    const extra = extraneous(body, ["inputText", "dimensions", "normalize", "embeddingTypes"]);
    if (extra) return extra;
    if (typeof body.inputText !== "string") return "Malformed input request: #: required key [inputText] not found, please reformat your input and try again.";
    if (body.inputText.length < 1 || body.inputText.length > 50_000) return "Malformed input request: #/inputText: expected minLength: 1, maximum 50000, please reformat your input and try again.";
    if (body.dimensions !== undefined && ![256, 512, 1024].includes(body.dimensions)) return "Malformed input request: #/dimensions: 256, 512 or 1024, please reformat your input and try again.";
    if (body.normalize !== undefined && typeof body.normalize !== "boolean") return "Malformed input request: #/normalize: expected type: Boolean, please reformat your input and try again.";
    if (body.embeddingTypes !== undefined && (!Array.isArray(body.embeddingTypes) || !body.embeddingTypes.every((t: unknown) => t === "float" || t === "binary")))
      return "Malformed input request: #/embeddingTypes: float or binary, please reformat your input and try again.";
    return undefined;
  }
  if (COHERE_EMBED.test(modelId)) {
    if (!body || typeof body !== "object" || Array.isArray(body)) return "Malformed input request, please reformat your input and try again.";
    const extra = extraneous(body, ["texts", "input_type", "truncate", "embedding_types", "images"]);
    if (extra) return extra;
    if (!Array.isArray(body.texts) || !body.texts.every((t: unknown) => typeof t === "string")) return "Malformed input request: #: required key [texts] not found, please reformat your input and try again.";
    if (body.texts.length > 96) return `Malformed input request: #/texts: expected maximum item count: 96, found: ${body.texts.length}, please reformat your input and try again.`;
    if (body.texts.some((t: string) => t.length > 2048)) return "Malformed input request: #/texts: expected maxLength: 2048, please reformat your input and try again.";
    if (!["search_document", "search_query", "classification", "clustering"].includes(body.input_type))
      return "Malformed input request: #/input_type: search_document, search_query, classification or clustering, please reformat your input and try again.";
    if (body.truncate !== undefined && !["NONE", "START", "END"].includes(body.truncate)) return "Malformed input request: #/truncate: NONE, START or END, please reformat your input and try again.";
    return undefined;
  }
  return undefined;
}

/** The documented answer of an embedding model to a valid body, or undefined for other models. */
export function embedAnswer(modelId: string, body: any): Response | undefined {
  if (TITAN_EMBED.test(modelId)) {
    const embedding = mockEmbedding(body.inputText, body.dimensions ?? 1024, body.normalize ?? true);
    const tokens = mockTokens(body.inputText);
    return jsonResponse({ embedding, inputTextTokenCount: tokens, embeddingsByType: { float: embedding } }, 200, { "x-amzn-bedrock-input-token-count": String(tokens) });
  }
  if (COHERE_EMBED.test(modelId)) {
    const texts: string[] = body.texts;
    const tokens = texts.reduce((a, t) => a + mockTokens(t), 0);
    return jsonResponse(
      { embeddings: texts.map((t) => mockEmbedding(t, 1024)), id: crypto.randomUUID(), response_type: "embeddings_floats", texts },
      200,
      { "x-amzn-bedrock-input-token-count": String(tokens) },
    );
  }
  return undefined;
}

/** Default behaviour: a tool call when toolChoice names a tool, else "Hello from Bedrock", as JSON or frames. */
export const defaultScript: BedrockScript = (call) => {
  const claude = CLAUDE_ID.test(call.modelId);
  if (call.operation === "count-tokens") return jsonResponse({ inputTokens: Math.ceil(JSON.stringify(call.countBody ?? {}).length / 4) });
  if (call.operation === "invoke") {
    const embedded = embedAnswer(call.modelId, call.body);
    if (embedded) return embedded;
  }
  if (call.operation === "invoke")
    return claude
      ? jsonResponse(claudeAnswer(call.body))
      : jsonResponse({ id: "msg_bdrk_mock1", type: "message", role: "assistant", content: [{ type: "text", text: "Hello from Claude on Bedrock" }], stop_reason: "end_turn", usage: { input_tokens: 7, output_tokens: 6 } });
  if (call.operation === "invoke-with-response-stream")
    return eventStreamResponse(chunkFrames(claude ? claudeEvents(claudeAnswer(call.body)) : anthropicEvents(["Hello", " from", " Claude"])));
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

/** How far x-amz-date may be from the server's clock (AWS: 15 minutes). */
const MAX_SKEW_MS = 15 * 60_000;

/** The SigV4 checks on the Authorization header's shape, scope and date: why the request is refused, or undefined. */
export function checkSignature(headers: Headers, accessKeyId: string, region: string, now = Date.now()): { status: number; type: string; message: string } | undefined {
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
  const at = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8), +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
  if (Math.abs(now - at) > MAX_SKEW_MS)
    return { status: 403, type: "InvalidSignatureException", message: `Signature expired: ${date} is now earlier than the allowed skew` };
  return undefined;
}

/**
 * The signature itself, as the service checks it: the canonical request rebuilt from what arrived (method, the path
 * as sent, exactly the headers SignedHeaders names, the hash of the body received) and signed with the secret key.
 * The AWS SDK's SignatureV4 does the signing here, so a signer that agrees with it is one AWS accepts.
 */
export async function verifySignature(
  method: string,
  rawPath: string,
  headers: Headers,
  body: string,
  creds: { accessKeyId: string; secretAccessKey: string },
  region: string,
): Promise<{ status: number; type: string; message: string } | undefined> {
  const auth = SIGV4.exec(headers.get("authorization") ?? "");
  if (!auth) return { status: 403, type: "IncompleteSignatureException", message: "Authorization header requires Credential, SignedHeaders and Signature" };
  const names = auth[5]!.split(";");
  const bodyHash = new Bun.CryptoHasher("sha256").update(body).digest("hex");
  const declared = headers.get("x-amz-content-sha256");
  if (declared !== null && declared !== bodyHash)
    return { status: 400, type: "XAmzContentSHA256Mismatch", message: "The provided 'x-amz-content-sha256' header does not match what was computed." };
  const signedHeaders: Record<string, string> = {};
  for (const n of names) {
    const v = headers.get(n);
    if (v === null) return { status: 403, type: "InvalidSignatureException", message: `SignedHeaders names '${n}', which the request does not have` };
    signedHeaders[n] = v;
  }
  const d = headers.get("x-amz-date")!;
  const signingDate = new Date(Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15)));
  const signer = new SignatureV4({ credentials: creds, region, service: "bedrock", sha256: Sha256 });
  const expected = await signer.sign(
    { method, protocol: "http:", hostname: "mock", path: rawPath, query: {}, headers: { ...signedHeaders, "x-amz-content-sha256": bodyHash }, body },
    { signingDate, signableHeaders: new Set(names) },
  );
  if (expected.headers.authorization !== headers.get("authorization"))
    return {
      status: 403,
      type: "InvalidSignatureException",
      message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    };
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

/**
 * Claude's InvokeModel body, as Bedrock checks it (its wording): no `model` or `stream` (extraneous keys),
 * `anthropic_version` "bedrock-2023-05-31", `anthropic_beta` a list of strings, then what the Messages API checks.
 */
export function validateClaudeInvoke(body: any): string | undefined {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "Malformed input request: #: expected type: JSONObject, please reformat your input and try again.";
  for (const k of ["model", "stream"]) if (k in body) return `Malformed input request: #: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  if (!("anthropic_version" in body)) return "Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.";
  if (body.anthropic_version !== "bedrock-2023-05-31") return "Invalid API version";
  const beta = body.anthropic_beta;
  if (beta !== undefined && !(Array.isArray(beta) && beta.every((b: unknown) => typeof b === "string")))
    return "Malformed input request: #/anthropic_beta: expected type: JSONArray, please reformat your input and try again.";
  const { anthropic_version: _v, anthropic_beta: _b, ...rest } = body;
  return validateAnthropicMessages({ model: "bedrock", ...rest });
}

// ---------------------------------------------------------------------------------------------------------------
// The server

export function startBedrockMock(opts: {
  accessKeyId: string;
  region: string;
  /** With the secret, every signature is recomputed and compared (verifySignature); without, only its shape and scope. */
  secretAccessKey?: string;
  script?: BedrockScript;
}): BedrockMock {
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
      const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream|count-tokens)$/.exec(url.pathname);
      if (req.method !== "POST" || !m) return refuse(404, "UnknownOperationException", `No operation at ${req.method} ${url.pathname}`);
      const sig = checkSignature(req.headers, opts.accessKeyId, opts.region);
      if (sig) return refuse(sig.status, sig.type, sig.message);
      const text = await req.text();
      if (opts.secretAccessKey) {
        const bad = await verifySignature(req.method, url.pathname, req.headers, text, { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }, opts.region);
        if (bad) return refuse(bad.status, bad.type, bad.message);
      }
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        return refuse(400, "SerializationException", "Malformed input request, please reformat your input and try again.");
      }
      const op = m[2]!;
      const modelId = decodeURIComponent(m[1]!);
      let countBody: any;
      if (op === "count-tokens") {
        const b64 = body?.input?.invokeModel?.body;
        if (typeof b64 !== "string") return refuse(400, "ValidationException", "input: exactly one of invokeModel or converse must be set");
        try {
          countBody = JSON.parse(Buffer.from(b64, "base64").toString("utf8"));
        } catch {
          return refuse(400, "ValidationException", "input.invokeModel.body: the body is not base64 JSON");
        }
        if (/^[a-z]{2,}(?:-[a-z]+)?\.anthropic\.|inference-profile/.test(modelId)) return refuse(400, "ValidationException", "The provided model doesn't support counting tokens.");
      }
      const converse = op === "converse" || op === "converse-stream";
      const claudeBody = CLAUDE_ID.test(modelId) ? (op === "count-tokens" ? countBody : op.startsWith("invoke") ? body : undefined) : undefined;
      const invalid = converse
        ? validateConverse(body)
        : claudeBody !== undefined
          ? validateClaudeInvoke(claudeBody)
          : op === "invoke"
            ? validateEmbedInvoke(modelId, body)
            : undefined;
      if (invalid) return refuse(400, "ValidationException", invalid);
      const call = log.add(
        {
          n: log.next,
          operation: op as BedrockCall["operation"],
          modelId,
          headers: CallLog.headersOf(req),
          body,
          ...(countBody !== undefined ? { countBody } : {}),
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
