// The OpenAI Chat Completions wire format: the one unified schema every provider speaks to the gateway.
// Requests are validated against these schemas; responses and chunks are typed by them.
import { Type as T, type Static } from "@sinclair/typebox";

// Limits a real client never reaches; they keep hostile bodies from costing us work (OpenAI's own caps where known).
export const LIMITS = { messages: 4096, tools: 512, stop: 4, n: 128, maxTokens: 10_000_000, parts: 1024 } as const;

const Str = T.String();
const OptStr = T.Optional(T.String());
const Open = { additionalProperties: true } as const;

export const TextPart = T.Object({ type: T.Literal("text"), text: Str }, Open);
export const ImagePart = T.Object(
  {
    type: T.Literal("image_url"),
    image_url: T.Object({ url: Str, detail: T.Optional(T.Union([T.Literal("auto"), T.Literal("low"), T.Literal("high")])) }, Open),
  },
  Open,
);
export const AudioPart = T.Object(
  { type: T.Literal("input_audio"), input_audio: T.Object({ data: Str, format: Str }, Open) },
  Open,
);
export const FilePart = T.Object(
  { type: T.Literal("file"), file: T.Object({ file_data: OptStr, file_id: OptStr, filename: OptStr }, Open) },
  Open,
);
export const RefusalPart = T.Object({ type: T.Literal("refusal"), refusal: Str }, Open);

const TextContent = T.Union([Str, T.Array(TextPart, { maxItems: LIMITS.parts })]);
export const UserContentPart = T.Union([TextPart, ImagePart, AudioPart, FilePart]);

export const ToolCall = T.Object(
  {
    id: Str,
    type: T.Literal("function"),
    function: T.Object({ name: Str, arguments: Str }, Open),
  },
  Open,
);

export const SystemMessage = T.Object({ role: T.Literal("system"), content: TextContent, name: OptStr }, Open);
export const DeveloperMessage = T.Object({ role: T.Literal("developer"), content: TextContent, name: OptStr }, Open);
export const UserMessage = T.Object(
  { role: T.Literal("user"), content: T.Union([Str, T.Array(UserContentPart, { maxItems: LIMITS.parts })]), name: OptStr },
  Open,
);
export const AssistantMessage = T.Object(
  {
    role: T.Literal("assistant"),
    content: T.Optional(T.Union([Str, T.Null(), T.Array(T.Union([TextPart, RefusalPart]), { maxItems: LIMITS.parts })])),
    name: OptStr,
    refusal: T.Optional(T.Union([Str, T.Null()])),
    tool_calls: T.Optional(T.Array(ToolCall, { maxItems: LIMITS.tools })),
  },
  Open,
);
export const ToolMessage = T.Object({ role: T.Literal("tool"), content: TextContent, tool_call_id: Str }, Open);
export const FunctionMessage = T.Object({ role: T.Literal("function"), content: T.Union([Str, T.Null()]), name: Str }, Open);

// Keyed by role so validation errors can name the exact schema a message failed against.
export const MessageByRole = {
  system: SystemMessage,
  developer: DeveloperMessage,
  user: UserMessage,
  assistant: AssistantMessage,
  tool: ToolMessage,
  function: FunctionMessage,
} as const;
export const Message = T.Union(Object.values(MessageByRole));

export const FunctionTool = T.Object(
  {
    type: T.Literal("function"),
    function: T.Object(
      {
        name: T.String({ pattern: "^[a-zA-Z0-9_-]{1,64}$" }),
        description: OptStr,
        parameters: T.Optional(T.Record(T.String(), T.Unknown())),
        strict: T.Optional(T.Union([T.Boolean(), T.Null()])),
      },
      Open,
    ),
  },
  Open,
);
// OpenAI's remote-MCP tool shape; the gateway expands it into function tools (see the MCP section of the README).
export const McpTool = T.Object(
  {
    type: T.Literal("mcp"),
    server_label: T.String({ minLength: 1 }),
    allowed_tools: T.Optional(T.Array(Str)),
    require_approval: T.Optional(T.Union([T.Literal("never"), T.Literal("always")])),
  },
  Open,
);
export const Tool = T.Union([FunctionTool, McpTool]);

export const ToolChoice = T.Union([
  T.Literal("none"),
  T.Literal("auto"),
  T.Literal("required"),
  T.Object({ type: T.Literal("function"), function: T.Object({ name: Str }, Open) }, Open),
]);

export const ResponseFormat = T.Union([
  T.Object({ type: T.Literal("text") }, Open),
  T.Object({ type: T.Literal("json_object") }, Open),
  T.Object(
    {
      type: T.Literal("json_schema"),
      json_schema: T.Object(
        { name: Str, description: OptStr, schema: T.Optional(T.Record(T.String(), T.Unknown())), strict: T.Optional(T.Union([T.Boolean(), T.Null()])) },
        Open,
      ),
    },
    Open,
  ),
]);

const Num = (min: number, max: number) => T.Optional(T.Union([T.Number({ minimum: min, maximum: max }), T.Null()]));
const Int = (min: number, max: number) => T.Optional(T.Union([T.Integer({ minimum: min, maximum: max }), T.Null()]));

export const ChatRequest = T.Object(
  {
    model: T.String({ minLength: 1, maxLength: 512 }),
    messages: T.Array(Message, { minItems: 1, maxItems: LIMITS.messages }),
    stream: T.Optional(T.Union([T.Boolean(), T.Null()])),
    stream_options: T.Optional(T.Union([T.Object({ include_usage: T.Optional(T.Boolean()) }, Open), T.Null()])),
    temperature: Num(0, 2),
    top_p: Num(0, 1),
    n: Int(1, LIMITS.n),
    max_tokens: Int(1, LIMITS.maxTokens),
    max_completion_tokens: Int(1, LIMITS.maxTokens),
    stop: T.Optional(T.Union([Str, T.Array(Str, { maxItems: LIMITS.stop }), T.Null()])),
    presence_penalty: Num(-2, 2),
    frequency_penalty: Num(-2, 2),
    logit_bias: T.Optional(T.Union([T.Record(T.String(), T.Number()), T.Null()])),
    logprobs: T.Optional(T.Union([T.Boolean(), T.Null()])),
    top_logprobs: Int(0, 20),
    seed: T.Optional(T.Union([T.Integer(), T.Null()])),
    user: OptStr,
    tools: T.Optional(T.Array(Tool, { maxItems: LIMITS.tools })),
    tool_choice: T.Optional(ToolChoice),
    parallel_tool_calls: T.Optional(T.Boolean()),
    response_format: T.Optional(ResponseFormat),
    reasoning_effort: T.Optional(T.Union([Str, T.Null()])),
    metadata: T.Optional(T.Union([T.Record(T.String(), T.String()), T.Null()])),
    store: T.Optional(T.Union([T.Boolean(), T.Null()])),
    service_tier: T.Optional(T.Union([Str, T.Null()])),
  },
  Open,
);

export const Usage = T.Object(
  {
    prompt_tokens: T.Integer(),
    completion_tokens: T.Integer(),
    total_tokens: T.Integer(),
    /** `cache_write_tokens` is Alloy's (and OpenRouter's, LiteLLM's) addition, present when a provider reports writes. */
    prompt_tokens_details: T.Optional(T.Object({ cached_tokens: T.Optional(T.Integer()), cache_write_tokens: T.Optional(T.Integer()) }, Open)),
    completion_tokens_details: T.Optional(T.Object({ reasoning_tokens: T.Optional(T.Integer()) }, Open)),
  },
  Open,
);

export const FinishReason = T.Union([
  T.Literal("stop"),
  T.Literal("length"),
  T.Literal("tool_calls"),
  T.Literal("content_filter"),
  T.Literal("function_call"),
]);

export const ChatResponse = T.Object(
  {
    id: Str,
    object: T.Literal("chat.completion"),
    created: T.Integer(),
    model: Str,
    choices: T.Array(
      T.Object(
        {
          index: T.Integer(),
          message: T.Object(
            {
              role: T.Literal("assistant"),
              content: T.Union([Str, T.Null()]),
              refusal: T.Optional(T.Union([Str, T.Null()])),
              tool_calls: T.Optional(T.Array(ToolCall)),
            },
            Open,
          ),
          finish_reason: T.Union([FinishReason, T.Null()]),
          logprobs: T.Optional(T.Unknown()),
        },
        Open,
      ),
    ),
    usage: T.Optional(Usage),
    system_fingerprint: T.Optional(T.Union([Str, T.Null()])),
  },
  Open,
);

export const ToolCallDelta = T.Object(
  {
    index: T.Integer(),
    id: OptStr,
    type: T.Optional(T.Literal("function")),
    function: T.Optional(T.Object({ name: OptStr, arguments: OptStr }, Open)),
  },
  Open,
);

export const ChatChunk = T.Object(
  {
    id: Str,
    object: T.Literal("chat.completion.chunk"),
    created: T.Integer(),
    model: Str,
    choices: T.Array(
      T.Object(
        {
          index: T.Integer(),
          delta: T.Object(
            {
              role: T.Optional(T.Literal("assistant")),
              content: T.Optional(T.Union([Str, T.Null()])),
              refusal: T.Optional(T.Union([Str, T.Null()])),
              tool_calls: T.Optional(T.Array(ToolCallDelta)),
            },
            Open,
          ),
          finish_reason: T.Union([FinishReason, T.Null()]),
          logprobs: T.Optional(T.Unknown()),
        },
        Open,
      ),
    ),
    usage: T.Optional(T.Union([Usage, T.Null()])),
    system_fingerprint: T.Optional(T.Union([Str, T.Null()])),
  },
  Open,
);

export type ChatRequest = Static<typeof ChatRequest>;
export type ChatMessage = Static<typeof Message>;
export type UserContentPart = Static<typeof UserContentPart>;
export type ToolCall = Static<typeof ToolCall>;
export type FunctionTool = Static<typeof FunctionTool>;
export type McpTool = Static<typeof McpTool>;
export type ToolChoice = Static<typeof ToolChoice>;
export type Usage = Static<typeof Usage>;
export type FinishReason = Static<typeof FinishReason>;
export type ChatResponse = Static<typeof ChatResponse>;
export type ChatChunk = Static<typeof ChatChunk>;
export type ToolCallDelta = Static<typeof ToolCallDelta>;

/** Text of a message's content, whatever its form (string, parts, null). */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let out = "";
  for (const p of content) if (p && typeof p === "object" && (p as { type?: string }).type === "text") out += (p as { text: string }).text;
  return out;
}
