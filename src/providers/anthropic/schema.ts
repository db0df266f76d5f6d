// The Anthropic Messages API wire format, as much of it as Alloy sends and reads. Response-side schemas stay open
// (extra keys allowed, unknown block and event types tolerated) because Anthropic adds fields and block types often.
import { Type as T, type Static } from "@sinclair/typebox";

const Open = { additionalProperties: true } as const;
const Str = T.String();
const OptStr = T.Optional(T.String());
const OptInt = T.Optional(T.Union([T.Integer(), T.Null()]));

// ---- request ------------------------------------------------------------------------------------------------------

export const TextBlock = T.Object({ type: T.Literal("text"), text: Str }, Open);
export const ImageBlock = T.Object(
  {
    type: T.Literal("image"),
    source: T.Union([
      T.Object({ type: T.Literal("base64"), media_type: Str, data: Str }),
      T.Object({ type: T.Literal("url"), url: Str }),
    ]),
  },
  Open,
);
export const DocumentBlock = T.Object(
  { type: T.Literal("document"), source: T.Object({ type: T.Literal("base64"), media_type: Str, data: Str }) },
  Open,
);
export const ToolUseBlock = T.Object({ type: T.Literal("tool_use"), id: Str, name: Str, input: T.Unknown() }, Open);
export const ToolResultBlock = T.Object(
  {
    type: T.Literal("tool_result"),
    tool_use_id: Str,
    content: T.Optional(T.Union([Str, T.Array(TextBlock)])),
    is_error: T.Optional(T.Boolean()),
  },
  Open,
);
export const RequestBlock = T.Union([TextBlock, ImageBlock, DocumentBlock, ToolUseBlock, ToolResultBlock]);

export const AnthropicMessage = T.Object({
  role: T.Union([T.Literal("user"), T.Literal("assistant")]),
  content: T.Array(RequestBlock),
});

export const AnthropicTool = T.Object({
  name: Str,
  description: OptStr,
  input_schema: T.Record(T.String(), T.Unknown()),
});

export const AnthropicToolChoice = T.Union([
  T.Object({ type: T.Literal("auto"), disable_parallel_tool_use: T.Optional(T.Boolean()) }),
  T.Object({ type: T.Literal("any"), disable_parallel_tool_use: T.Optional(T.Boolean()) }),
  T.Object({ type: T.Literal("tool"), name: Str, disable_parallel_tool_use: T.Optional(T.Boolean()) }),
  T.Object({ type: T.Literal("none") }),
]);

export const AnthropicRequest = T.Object({
  model: Str,
  max_tokens: T.Integer({ minimum: 1 }),
  messages: T.Array(AnthropicMessage),
  system: OptStr,
  stop_sequences: T.Optional(T.Array(Str)),
  temperature: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
  top_p: T.Optional(T.Number()),
  metadata: T.Optional(T.Object({ user_id: Str })),
  tools: T.Optional(T.Array(AnthropicTool)),
  tool_choice: T.Optional(AnthropicToolChoice),
  stream: T.Optional(T.Boolean()),
});

// ---- response -----------------------------------------------------------------------------------------------------

export const AnthropicUsage = T.Object(
  {
    input_tokens: OptInt,
    output_tokens: OptInt,
    cache_creation_input_tokens: OptInt,
    cache_read_input_tokens: OptInt,
  },
  Open,
);

/** Any content block: text and tool_use are read, everything else (thinking, redacted_thinking, server tools…) skipped. */
export const ResponseBlock = T.Object({ type: Str, text: OptStr, id: OptStr, name: OptStr, input: T.Optional(T.Unknown()) }, Open);

export const AnthropicResponse = T.Object(
  {
    id: Str,
    type: T.Optional(T.Literal("message")),
    role: T.Optional(T.Literal("assistant")),
    model: OptStr,
    content: T.Array(ResponseBlock),
    stop_reason: T.Optional(T.Union([Str, T.Null()])),
    stop_sequence: T.Optional(T.Union([Str, T.Null()])),
    usage: T.Optional(AnthropicUsage),
  },
  Open,
);

// ---- stream events ------------------------------------------------------------------------------------------------

export const MessageStartEvent = T.Object(
  {
    type: T.Literal("message_start"),
    message: T.Object({ id: Str, model: OptStr, usage: T.Optional(AnthropicUsage) }, Open),
  },
  Open,
);
export const ContentBlockStartEvent = T.Object(
  { type: T.Literal("content_block_start"), index: T.Integer(), content_block: ResponseBlock },
  Open,
);
export const ContentBlockDeltaEvent = T.Object(
  {
    type: T.Literal("content_block_delta"),
    index: T.Integer(),
    // text_delta has `text`, input_json_delta `partial_json`; thinking/signature/citations deltas are skipped.
    delta: T.Object({ type: Str, text: OptStr, partial_json: OptStr }, Open),
  },
  Open,
);
export const ContentBlockStopEvent = T.Object({ type: T.Literal("content_block_stop"), index: T.Integer() }, Open);
export const MessageDeltaEvent = T.Object(
  {
    type: T.Literal("message_delta"),
    delta: T.Object({ stop_reason: T.Optional(T.Union([Str, T.Null()])), stop_sequence: T.Optional(T.Union([Str, T.Null()])) }, Open),
    usage: T.Optional(AnthropicUsage),
  },
  Open,
);
export const MessageStopEvent = T.Object({ type: T.Literal("message_stop") }, Open);
export const PingEvent = T.Object({ type: T.Literal("ping") }, Open);
export const ErrorEvent = T.Object({ type: T.Literal("error"), error: T.Object({ type: Str, message: Str }, Open) }, Open);

/** Event types Anthropic may add later; they are skipped, never fatal. */
export const UnknownEvent = T.Object({ type: T.Literal("unknown"), name: Str });

export const StreamEvent = T.Union([
  MessageStartEvent,
  ContentBlockStartEvent,
  ContentBlockDeltaEvent,
  ContentBlockStopEvent,
  MessageDeltaEvent,
  MessageStopEvent,
  PingEvent,
  ErrorEvent,
  UnknownEvent,
]);

export type AnthropicRequest = Static<typeof AnthropicRequest>;
export type AnthropicMessage = Static<typeof AnthropicMessage>;
export type RequestBlock = Static<typeof RequestBlock>;
export type AnthropicTool = Static<typeof AnthropicTool>;
export type AnthropicToolChoice = Static<typeof AnthropicToolChoice>;
export type AnthropicResponse = Static<typeof AnthropicResponse>;
export type AnthropicUsage = Static<typeof AnthropicUsage>;
export type ResponseBlock = Static<typeof ResponseBlock>;
export type StreamEvent = Static<typeof StreamEvent>;
