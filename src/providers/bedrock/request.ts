// OpenAI Chat Completions request → Bedrock Converse request, as plain code (translation.md, "OpenAI → Bedrock").
// Converse wants strictly alternating user/assistant turns with no empty blocks, so messages are converted one by one
// and then merged by role; tool results land in the user turn that follows the assistant's tool calls.
import type {
  ContentBlock,
  ConverseRequest,
  ImageFormat,
  InferenceConfiguration,
  SystemContentBlock,
  Tool,
  ToolConfiguration,
  ToolUseBlock,
} from "@aws-sdk/client-bedrock-runtime";
import { AlloyError } from "../../errors.ts";
import { pushTurn } from "../kit.ts";
import { contentText, type ChatMessage, type ChatRequest, type UserContentPart } from "../../openai/schema.ts";
import { own } from "../../util/own.ts";
import { parseDataUrl, toolArguments } from "../content.ts";

/** The SDK's JSON document type (tool inputs and schemas). */
type Doc = NonNullable<ToolUseBlock["input"]>;

/**
 * The SDK's shapes as they go over the wire, which we now write ourselves: in Converse's JSON a blob (image bytes) is
 * base64 text, where the SDK's types hold a Uint8Array it would encode.
 */
export interface WireImageBlock {
  image: { format: ImageFormat; source: { bytes: string } };
}
export type WireBlock = Exclude<ContentBlock, ContentBlock.ImageMember> | WireImageBlock;
export interface WireMessage {
  role: "user" | "assistant";
  content: WireBlock[];
}
export type WireConverseRequest = Omit<ConverseRequest, "messages"> & { messages: WireMessage[] };

const IMAGE_FORMATS: Record<string, ImageFormat> = { png: "png", jpeg: "jpeg", jpg: "jpeg", gif: "gif", webp: "webp" };

function bad(message: string, param: string): AlloyError {
  return new AlloyError("bad_request", message, { param });
}

/** `data:image/png;base64,…` → an image block; anything else is a 400 naming the part. */
export function imageBlock(url: string, param: string): WireImageBlock {
  const d = parseDataUrl(url);
  if (!d) {
    if (/^https?:\/\//i.test(url))
      throw bad("Bedrock Converse does not fetch image URLs; send the image inline as a base64 data URL (data:image/png;base64,…)", param);
    throw bad("Invalid image URL: expected a base64 data URL such as data:image/png;base64,…", param);
  }
  const format = d.mediaType.startsWith("image/") ? own(IMAGE_FORMATS, d.mediaType.slice(6)) : undefined;
  if (!format) throw bad(`Unsupported image type ${d.mediaType}: Bedrock accepts png, jpeg, gif and webp`, param);
  const b64 = d.data.replace(/\s+/g, "");
  if (!b64 || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(b64)) throw bad("Invalid image data: not base64", param);
  // Standard padded base64 goes through as is; URL-safe or unpadded text is re-encoded, as the SDK's encoder would.
  const bytes = b64.length % 4 === 0 && !/[-_]/.test(b64) ? b64 : Buffer.from(b64, "base64").toString("base64");
  return { image: { format, source: { bytes } } };
}

/** Converse rejects blank text blocks ("… is blank"), so whitespace-only text is left out. */
function textBlocks(text: string): WireBlock[] {
  return text.trim() ? [{ text }] : [];
}

function userBlocks(content: string | UserContentPart[], param: string): WireBlock[] {
  if (typeof content === "string") return textBlocks(content);
  const out: WireBlock[] = [];
  content.forEach((part, j) => {
    const at = `${param}[${j}]`;
    if (part.type === "text") out.push(...textBlocks(part.text));
    else if (part.type === "image_url") out.push(imageBlock(part.image_url.url, `${at}.image_url.url`));
    else throw bad(`Content parts of type '${part.type}' are not supported by the Bedrock provider`, `${at}.type`);
  });
  return out;
}

/** One OpenAI message → a Converse turn (or nothing for system/developer, which go to `system`). */
function toTurn(m: ChatMessage, i: number): WireMessage | undefined {
  const param = `messages[${i}]`;
  switch (m.role) {
    case "system":
    case "developer":
      return undefined;
    case "user":
      return { role: "user", content: userBlocks(m.content, `${param}.content`) };
    case "assistant": {
      const content: WireBlock[] = [];
      if (typeof m.content === "string") content.push(...textBlocks(m.content));
      else if (Array.isArray(m.content))
        for (const p of m.content) content.push(...textBlocks(p.type === "text" ? p.text : p.refusal));
      (m.tool_calls ?? []).forEach((c, j) =>
        content.push({
          toolUse: { toolUseId: c.id, name: c.function.name, input: toolArguments(c.function.arguments, c.function.name, `${param}.tool_calls[${j}].function.arguments`) as Doc },
        }),
      );
      return { role: "assistant", content };
    }
    case "tool": {
      const text = contentText(m.content);
      return { role: "user", content: [{ toolResult: { toolUseId: m.tool_call_id, content: text.trim() ? [{ text }] : [] } }] };
    }
    case "function":
      throw bad("Legacy 'function' messages are not supported by the Bedrock provider; use 'tool' messages", `${param}.role`);
  }
}

/** Drop empty turns, then merge neighbours of one role: Converse rejects both empty content and repeated roles. */
export function toMessages(messages: ChatMessage[]): WireMessage[] {
  const out: WireMessage[] = [];
  messages.forEach((m, i) => {
    const turn = toTurn(m, i);
    if (turn) pushTurn(out, turn.role, turn.content);
  });
  return out;
}

export function toSystem(messages: ChatMessage[]): SystemContentBlock[] {
  const out: SystemContentBlock[] = [];
  for (const m of messages) if (m.role === "system" || m.role === "developer") {
    const text = contentText(m.content);
    if (text.trim()) out.push({ text });
  }
  return out;
}

function toInferenceConfig(req: ChatRequest): InferenceConfiguration | undefined {
  const cfg: InferenceConfiguration = {};
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens != null) cfg.maxTokens = maxTokens;
  if (req.temperature != null) cfg.temperature = req.temperature;
  if (req.top_p != null) cfg.topP = req.top_p;
  if (req.stop != null) {
    const stop = (typeof req.stop === "string" ? [req.stop] : req.stop).filter((s) => s.length > 0);
    if (stop.length) cfg.stopSequences = stop;
  }
  return Object.keys(cfg).length ? cfg : undefined;
}

/** Function tools → toolSpecs; `tool_choice: "none"` sends no tools at all (Converse has no "none"). */
export function toToolConfig(req: ChatRequest): ToolConfiguration | undefined {
  if (req.tool_choice === "none") return undefined;
  const tools: Tool[] = [];
  for (const t of req.tools ?? []) {
    if (t.type !== "function") continue; // MCP tools are expanded by the gateway before a provider sees them
    const f = t.function;
    tools.push({
      toolSpec: {
        name: f.name,
        ...(f.description ? { description: f.description } : {}),
        inputSchema: { json: (f.parameters ?? { type: "object", properties: {} }) as Doc },
      },
    });
  }
  if (!tools.length) return undefined;
  const choice = req.tool_choice;
  const toolChoice =
    choice === "auto" ? { auto: {} } : choice === "required" ? { any: {} } : typeof choice === "object" ? { tool: { name: choice.function.name } } : undefined;
  return { tools, ...(toolChoice ? { toolChoice } : {}) };
}

/** The whole Converse / ConverseStream request body for one call (modelId may be a model id, profile id or ARN). */
export function toConverseRequest(req: ChatRequest, modelId: string): WireConverseRequest {
  const messages = toMessages(req.messages);
  if (!messages.length) throw bad("At least one user or assistant message with content is required", "messages");
  const system = toSystem(req.messages);
  const inferenceConfig = toInferenceConfig(req);
  const toolConfig = toToolConfig(req);
  return {
    modelId,
    messages,
    ...(system.length ? { system } : {}),
    ...(inferenceConfig ? { inferenceConfig } : {}),
    ...(toolConfig ? { toolConfig } : {}),
  };
}
