// The Anthropic Messages API as clients send it to Alloy (POST /v1/messages, /v1/messages/count_tokens) and as
// Alloy answers on translated paths. Request objects are open: Anthropic adds fields and block types often, and a
// native Anthropic target must get them unchanged. What is checked is what the real API rejects too (a missing
// `model`/`max_tokens`/`messages`, a role other than user/assistant, a known block without its required fields).
// Reference: https://docs.claude.com/en/api/messages (request, response), .../build-with-claude/streaming (events).
import { Type as T, type Static, type TSchema } from "@sinclair/typebox";

const Open = { additionalProperties: true } as const;
const Str = T.String();
const OptStr = T.Optional(T.String());
const OptBool = T.Optional(T.Boolean());
const Json = T.Record(T.String(), T.Unknown());

/** A `type` that is none of `names`: lets an open fallback sit beside strict schemas in one union. */
const OtherType = (names: string[]) => T.String({ minLength: 1, pattern: `^(?!(?:${names.join("|")})$)` });

export const CacheControl = T.Object({ type: Str }, Open);
const Cache = { cache_control: T.Optional(T.Union([CacheControl, T.Null()])) };

// ---- content blocks (request) ---------------------------------------------------------------------------------------

export const TextBlock = T.Object({ type: T.Literal("text"), text: Str, citations: T.Optional(T.Union([T.Array(T.Unknown()), T.Null()])), ...Cache }, Open);

export const Base64Source = T.Object({ type: T.Literal("base64"), media_type: Str, data: Str }, Open);
export const UrlSource = T.Object({ type: T.Literal("url"), url: Str }, Open);
export const FileSource = T.Object({ type: T.Literal("file"), file_id: Str }, Open);
export const PlainTextSource = T.Object({ type: T.Literal("text"), media_type: Str, data: Str }, Open);
export const ContentSource = T.Object({ type: T.Literal("content"), content: T.Union([Str, T.Array(T.Object({ type: Str }, Open))]) }, Open);

export const ImageBlock = T.Object({ type: T.Literal("image"), source: T.Union([Base64Source, UrlSource, FileSource]), ...Cache }, Open);
export const DocumentBlock = T.Object(
  {
    type: T.Literal("document"),
    source: T.Union([Base64Source, PlainTextSource, ContentSource, UrlSource, FileSource]),
    title: T.Optional(T.Union([Str, T.Null()])),
    context: T.Optional(T.Union([Str, T.Null()])),
    ...Cache,
  },
  Open,
);
export const SearchResultBlock = T.Object(
  { type: T.Literal("search_result"), source: Str, title: Str, content: T.Array(TextBlock), ...Cache },
  Open,
);
export const ToolUseBlock = T.Object({ type: T.Literal("tool_use"), id: Str, name: Str, input: Json, ...Cache }, Open);
/** Blocks a tool_result may hold: text, image, document, search_result, and newer ones (tool_reference…). */
export const ToolResultContentBlock = T.Union([TextBlock, ImageBlock, DocumentBlock, SearchResultBlock, T.Object({ type: OtherType(["text", "image", "document", "search_result"]) }, Open)]);
export const ToolResultBlock = T.Object(
  {
    type: T.Literal("tool_result"),
    tool_use_id: Str,
    content: T.Optional(T.Union([Str, T.Array(ToolResultContentBlock)])),
    is_error: OptBool,
    ...Cache,
  },
  Open,
);
export const ThinkingBlock = T.Object({ type: T.Literal("thinking"), thinking: Str, signature: Str }, Open);
export const RedactedThinkingBlock = T.Object({ type: T.Literal("redacted_thinking"), data: Str }, Open);
export const ServerToolUseBlock = T.Object({ type: T.Literal("server_tool_use"), id: Str, name: Str, input: Json, ...Cache }, Open);

/** Known block types by name: the error path checks a block against the one its `type` names. */
export const BlockByType = {
  text: TextBlock,
  image: ImageBlock,
  document: DocumentBlock,
  search_result: SearchResultBlock,
  tool_use: ToolUseBlock,
  tool_result: ToolResultBlock,
  thinking: ThinkingBlock,
  redacted_thinking: RedactedThinkingBlock,
  server_tool_use: ServerToolUseBlock,
} as const satisfies Record<string, TSchema>;

/** Server tool results (web_search_tool_result, code_execution_tool_result…), mcp_tool_use, container_upload, future types. */
export const OtherBlock = T.Object({ type: OtherType(Object.keys(BlockByType)) }, Open);
export const ContentBlock = T.Union([...Object.values(BlockByType), OtherBlock]);

export const InputMessage = T.Object(
  // Newer models take `system` entries inside `messages` too (Claude Code sends its environment block so).
  { role: T.Union([T.Literal("user"), T.Literal("assistant"), T.Literal("system")]), content: T.Union([Str, T.Array(ContentBlock)]) },
  Open,
);

// ---- tools ----------------------------------------------------------------------------------------------------------

export const CustomTool = T.Object(
  {
    type: T.Optional(T.Union([T.Literal("custom"), T.Null()])),
    name: T.String({ minLength: 1, maxLength: 128 }),
    description: OptStr,
    input_schema: T.Object({ type: T.Literal("object") }, Open),
    strict: OptBool,
    ...Cache,
  },
  Open,
);
/** Anthropic-run tools are named by a versioned `type` (web_search_20250305, bash_20250124, text_editor_…). */
export const ServerTool = T.Object({ type: T.String({ minLength: 1, pattern: "^(?!custom$)" }), name: Str, ...Cache }, Open);
export const Tool = T.Union([CustomTool, ServerTool]);

const NoParallel = { disable_parallel_tool_use: OptBool };
export const ToolChoice = T.Union([
  T.Object({ type: T.Literal("auto"), ...NoParallel }, Open),
  T.Object({ type: T.Literal("any"), ...NoParallel }, Open),
  T.Object({ type: T.Literal("tool"), name: Str, ...NoParallel }, Open),
  T.Object({ type: T.Literal("none") }, Open),
]);

// ---- the rest of the request ---------------------------------------------------------------------------------------

// Anthropic: "budget_tokens … must be ≥1024 and less than max_tokens".
export const ThinkingConfig = T.Union([
  T.Object({ type: T.Literal("enabled"), budget_tokens: T.Integer({ minimum: 1024 }), display: OptStr }, Open),
  T.Object({ type: T.Literal("adaptive"), display: OptStr }, Open),
  T.Object({ type: T.Literal("disabled") }, Open),
]);

export const JsonSchemaFormat = T.Object({ type: T.Literal("json_schema"), schema: Json }, Open);
export const OutputConfig = T.Object({ effort: T.Optional(T.Union([Str, T.Null()])), format: T.Optional(T.Union([JsonSchemaFormat, T.Null()])) }, Open);

export const Metadata = T.Object({ user_id: T.Optional(T.Union([Str, T.Null()])) }, Open);

/** Fields the Messages and count_tokens requests share. */
const common = {
  model: T.String({ minLength: 1, maxLength: 512 }),
  messages: T.Array(InputMessage, { minItems: 1, maxItems: 100_000 }),
  system: T.Optional(T.Union([Str, T.Array(TextBlock)])),
  tools: T.Optional(T.Array(Tool)),
  tool_choice: T.Optional(ToolChoice),
  thinking: T.Optional(ThinkingConfig),
  output_config: T.Optional(OutputConfig),
  /** The structured-outputs beta's name for output_config.format. */
  output_format: T.Optional(T.Union([JsonSchemaFormat, T.Null()])),
  context_management: T.Optional(T.Union([T.Object({}, Open), T.Null()])),
  mcp_servers: T.Optional(T.Array(T.Object({}, Open))),
};

export const MessagesRequest = T.Object(
  {
    ...common,
    max_tokens: T.Integer({ minimum: 1 }),
    stop_sequences: T.Optional(T.Array(Str)),
    temperature: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    top_p: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    top_k: T.Optional(T.Integer({ minimum: 0 })),
    metadata: T.Optional(Metadata),
    stream: OptBool,
    service_tier: OptStr,
    container: T.Optional(T.Union([Str, T.Object({}, Open), T.Null()])),
  },
  Open,
);

/** POST /v1/messages/count_tokens: the request without max_tokens, sampling or stream. */
export const CountTokensRequest = T.Object(common, Open);

export type MessagesRequest = Static<typeof MessagesRequest>;
export type CountTokensRequest = Static<typeof CountTokensRequest>;
export type InputMessage = Static<typeof InputMessage>;
export type ContentBlock = Static<typeof ContentBlock>;
export type TextBlock = Static<typeof TextBlock>;
export type ImageBlock = Static<typeof ImageBlock>;
export type DocumentBlock = Static<typeof DocumentBlock>;
export type ToolResultBlock = Static<typeof ToolResultBlock>;
export type ToolResultContentBlock = Static<typeof ToolResultContentBlock>;
export type Tool = Static<typeof Tool>;
export type CustomTool = Static<typeof CustomTool>;
export type ToolChoice = Static<typeof ToolChoice>;

// ---- the answer (translated paths) ----------------------------------------------------------------------------------

export const StopReason = T.Union([
  T.Literal("end_turn"),
  T.Literal("max_tokens"),
  T.Literal("stop_sequence"),
  T.Literal("tool_use"),
  T.Literal("pause_turn"),
  T.Literal("refusal"),
]);

export const OutText = T.Object({ type: T.Literal("text"), text: Str });
export const OutThinking = T.Object({ type: T.Literal("thinking"), thinking: Str, signature: Str });
export const OutToolUse = T.Object({ type: T.Literal("tool_use"), id: Str, name: Str, input: Json });
export const OutBlock = T.Union([OutThinking, OutText, OutToolUse]);

export const MessageUsage = T.Object({
  input_tokens: T.Integer(),
  output_tokens: T.Integer(),
  cache_creation_input_tokens: T.Integer(),
  cache_read_input_tokens: T.Integer(),
});

export const AnthropicMessage = T.Object({
  id: Str,
  type: T.Literal("message"),
  role: T.Literal("assistant"),
  model: Str,
  content: T.Array(OutBlock),
  stop_reason: T.Union([StopReason, T.Null()]),
  stop_sequence: T.Union([Str, T.Null()]),
  usage: MessageUsage,
});

export const AnthropicErrorBody = T.Object({
  type: T.Literal("error"),
  error: T.Object({ type: Str, message: Str }),
  request_id: Str,
});

export type StopReason = Static<typeof StopReason>;
export type OutBlock = Static<typeof OutBlock>;
export type MessageUsage = Static<typeof MessageUsage>;
export type AnthropicMessage = Static<typeof AnthropicMessage>;
export type AnthropicErrorBody = Static<typeof AnthropicErrorBody>;
