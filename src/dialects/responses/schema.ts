// The OpenAI Responses API wire format (https://platform.openai.com/docs/api-reference/responses/create), as far as
// Alloy reads or writes it. Objects are open: OpenAI adds fields often and clients (Codex, the Agents SDK) send new
// ones before any spec lists them. Known item and tool types get their own schema, checked one by one in decode.ts
// so a 400 can name the exact field; anything else with a `type` passes through (and is left out on translation).
import { Type as T, type Static, type TSchema } from "@sinclair/typebox";

export const LIMITS = { items: 8192, tools: 512, parts: 1024, maxTokens: 10_000_000 } as const;

const Str = T.String();
const OptStr = T.Optional(T.String());
const Nullable = <S extends TSchema>(s: S) => T.Optional(T.Union([s, T.Null()]));
const Open = { additionalProperties: true } as const;
const ItemStatus = T.Union([T.Literal("in_progress"), T.Literal("completed"), T.Literal("incomplete")]);
const JsonObject = T.Record(T.String(), T.Unknown());

// ── input content parts ────────────────────────────────────────────────────────────────────────────────────────
export const InputTextPart = T.Object({ type: T.Literal("input_text"), text: Str }, Open);
export const InputImagePart = T.Object(
  {
    type: T.Literal("input_image"),
    image_url: Nullable(Str),
    file_id: Nullable(Str),
    detail: T.Optional(T.Union([T.Literal("auto"), T.Literal("low"), T.Literal("high"), T.Literal("original")])),
  },
  Open,
);
export const InputFilePart = T.Object(
  { type: T.Literal("input_file"), file_id: Nullable(Str), file_data: OptStr, file_url: OptStr, filename: OptStr },
  Open,
);
export const OutputTextPart = T.Object({ type: T.Literal("output_text"), text: Str, annotations: T.Optional(T.Array(T.Unknown())) }, Open);
export const RefusalPart = T.Object({ type: T.Literal("refusal"), refusal: Str }, Open);
export const PartByType = {
  input_text: InputTextPart,
  input_image: InputImagePart,
  input_file: InputFilePart,
  output_text: OutputTextPart,
  refusal: RefusalPart,
} as const;
export const ContentPart = T.Union(Object.values(PartByType));

// ── input items ────────────────────────────────────────────────────────────────────────────────────────────────
export const MessageItem = T.Object(
  {
    type: T.Optional(T.Literal("message")),
    id: OptStr,
    role: T.Union([T.Literal("user"), T.Literal("assistant"), T.Literal("system"), T.Literal("developer")]),
    content: T.Union([Str, T.Array(ContentPart, { maxItems: LIMITS.parts })]),
    status: T.Optional(ItemStatus),
  },
  Open,
);
export const FunctionCallItem = T.Object(
  { type: T.Literal("function_call"), id: OptStr, call_id: Str, name: Str, arguments: Str, status: T.Optional(ItemStatus) },
  Open,
);
export const FunctionCallOutputItem = T.Object(
  {
    type: T.Literal("function_call_output"),
    id: Nullable(Str),
    call_id: Str,
    output: T.Union([Str, T.Array(T.Union([InputTextPart, InputImagePart, InputFilePart]), { maxItems: LIMITS.parts })]),
    status: Nullable(ItemStatus),
  },
  Open,
);
export const SummaryText = T.Object({ type: T.Literal("summary_text"), text: Str }, Open);
export const ReasoningItem = T.Object(
  {
    type: T.Literal("reasoning"),
    // OpenAI gives every reasoning item an id; clients running with store: false (Codex) may send them without one.
    id: OptStr,
    summary: T.Array(SummaryText),
    encrypted_content: Nullable(Str),
    content: T.Optional(T.Array(T.Object({ type: Str, text: Str }, Open))),
    status: T.Optional(ItemStatus),
  },
  Open,
);
export const ItemReference = T.Object({ type: T.Optional(T.Union([T.Literal("item_reference"), T.Null()])), id: Str }, Open);
/** Any other item (web_search_call, local_shell_call, custom_tool_call, compaction, …): stored, never translated. */
export const OtherItem = T.Object({ type: Str }, Open);

export const ItemByType = {
  message: MessageItem,
  function_call: FunctionCallItem,
  function_call_output: FunctionCallOutputItem,
  reasoning: ReasoningItem,
  item_reference: ItemReference,
} as const;
export const InputItem = T.Union([MessageItem, FunctionCallItem, FunctionCallOutputItem, ReasoningItem, ItemReference, OtherItem]);

// ── tools ──────────────────────────────────────────────────────────────────────────────────────────────────────
export const FunctionToolParam = T.Object(
  {
    type: T.Literal("function"),
    // Chat Completions' rule for function names: every provider path can carry them.
    name: T.String({ pattern: "^[a-zA-Z0-9_-]{1,64}$" }),
    description: Nullable(Str),
    parameters: Nullable(JsonObject),
    strict: Nullable(T.Boolean()),
  },
  Open,
);
export const McpToolParam = T.Object(
  {
    type: T.Literal("mcp"),
    server_label: T.String({ minLength: 1 }),
    server_url: OptStr,
    allowed_tools: Nullable(T.Union([T.Array(Str), T.Object({ tool_names: T.Optional(T.Array(Str)), read_only: T.Optional(T.Boolean()) }, Open)])),
    require_approval: Nullable(T.Union([T.Literal("never"), T.Literal("always"), T.Object({}, Open)])),
  },
  Open,
);
/** Built-in tools (web_search, file_search, code_interpreter, local_shell, custom, namespace, …): open by type. */
export const OtherTool = T.Object({ type: Str }, Open);
export const ToolByType = { function: FunctionToolParam, mcp: McpToolParam } as const;
export const ToolParam = T.Union([FunctionToolParam, McpToolParam, OtherTool]);

export const ToolChoiceFunction = T.Object({ type: T.Literal("function"), name: Str }, Open);
export const ToolChoiceParam = T.Union([
  T.Literal("auto"),
  T.Literal("none"),
  T.Literal("required"),
  ToolChoiceFunction,
  // mcp {server_label, name?}, allowed_tools {mode, tools}, custom {name}, hosted tool types {type}
  T.Object({ type: Str }, Open),
]);

// ── text format, reasoning ─────────────────────────────────────────────────────────────────────────────────────
export const FormatText = T.Object({ type: T.Literal("text") }, Open);
export const FormatJsonObject = T.Object({ type: T.Literal("json_object") }, Open);
export const FormatJsonSchema = T.Object(
  { type: T.Literal("json_schema"), name: T.String({ minLength: 1, maxLength: 64 }), schema: JsonObject, description: OptStr, strict: Nullable(T.Boolean()) },
  Open,
);
export const TextFormat = T.Union([FormatText, FormatJsonObject, FormatJsonSchema]);
export const TextParam = T.Object({ format: T.Optional(TextFormat), verbosity: Nullable(Str) }, Open);
export const ReasoningParam = T.Object({ effort: Nullable(Str), summary: Nullable(Str), generate_summary: Nullable(Str) }, Open);

const Num = (min: number, max: number) => Nullable(T.Number({ minimum: min, maximum: max }));

export const ResponsesRequest = T.Object(
  {
    model: T.String({ minLength: 1, maxLength: 512 }),
    input: T.Optional(T.Union([Str, T.Array(InputItem, { maxItems: LIMITS.items })])),
    instructions: Nullable(Str),
    tools: T.Optional(T.Array(ToolParam, { maxItems: LIMITS.tools })),
    tool_choice: T.Optional(ToolChoiceParam),
    parallel_tool_calls: Nullable(T.Boolean()),
    text: Nullable(TextParam),
    reasoning: Nullable(ReasoningParam),
    max_output_tokens: Nullable(T.Integer({ minimum: 1, maximum: LIMITS.maxTokens })),
    max_tool_calls: Nullable(T.Integer({ minimum: 0 })),
    temperature: Num(0, 2),
    top_p: Num(0, 1),
    top_logprobs: Nullable(T.Integer({ minimum: 0, maximum: 20 })),
    metadata: Nullable(T.Record(T.String(), T.String())),
    store: Nullable(T.Boolean()),
    previous_response_id: Nullable(T.String({ minLength: 1 })),
    include: Nullable(T.Array(Str)),
    stream: Nullable(T.Boolean()),
    stream_options: Nullable(T.Object({}, Open)),
    background: Nullable(T.Boolean()),
    user: OptStr,
    safety_identifier: OptStr,
    prompt_cache_key: OptStr,
    service_tier: Nullable(Str),
    truncation: Nullable(T.Union([T.Literal("auto"), T.Literal("disabled")])),
  },
  Open,
);

export type ResponsesRequest = Static<typeof ResponsesRequest>;
export type InputItem = Static<typeof InputItem>;
export type MessageItem = Static<typeof MessageItem>;
export type FunctionCallItem = Static<typeof FunctionCallItem>;
export type FunctionCallOutputItem = Static<typeof FunctionCallOutputItem>;
export type ReasoningInputItem = Static<typeof ReasoningItem>;
export type ContentPart = Static<typeof ContentPart>;
export type ToolParam = Static<typeof ToolParam>;
export type FunctionToolParam = Static<typeof FunctionToolParam>;
export type McpToolParam = Static<typeof McpToolParam>;
export type ToolChoiceParam = Static<typeof ToolChoiceParam>;
export type TextFormat = Static<typeof TextFormat>;

// ── the Response object and its output items ───────────────────────────────────────────────────────────────────
export const OutputText = T.Object({ type: T.Literal("output_text"), text: Str, annotations: T.Array(T.Unknown()), logprobs: T.Array(T.Unknown()) });
export const OutputRefusal = T.Object({ type: T.Literal("refusal"), refusal: Str });
export const OutputMessage = T.Object({
  id: Str,
  type: T.Literal("message"),
  status: ItemStatus,
  role: T.Literal("assistant"),
  content: T.Array(T.Union([OutputText, OutputRefusal])),
});
export const OutputFunctionCall = T.Object({
  id: Str,
  type: T.Literal("function_call"),
  status: ItemStatus,
  call_id: Str,
  name: Str,
  /** The namespace tool the function belongs to, when it came from one. */
  namespace: OptStr,
  arguments: Str,
});
export const OutputCustomToolCall = T.Object({
  id: Str,
  type: T.Literal("custom_tool_call"),
  status: ItemStatus,
  call_id: Str,
  name: Str,
  namespace: OptStr,
  input: Str,
});
export const OutputReasoning = T.Object({ id: Str, type: T.Literal("reasoning"), summary: T.Array(SummaryText) });
export const OutputItem = T.Union([OutputMessage, OutputFunctionCall, OutputCustomToolCall, OutputReasoning]);

export const ResponseUsage = T.Object({
  input_tokens: T.Integer(),
  input_tokens_details: T.Object({ cached_tokens: T.Integer(), cache_write_tokens: T.Integer() }),
  output_tokens: T.Integer(),
  output_tokens_details: T.Object({ reasoning_tokens: T.Integer() }),
  total_tokens: T.Integer(),
});

/** The error codes OpenAI's schema allows in `response.error` (ResponseErrorCode, abridged to those we can mean). */
export const ResponseErrorCode = T.Union([T.Literal("server_error"), T.Literal("rate_limit_exceeded"), T.Literal("invalid_prompt")]);

export const ResponseObject = T.Object({
  id: Str,
  object: T.Literal("response"),
  created_at: T.Number(),
  status: T.Union([T.Literal("completed"), T.Literal("failed"), T.Literal("in_progress"), T.Literal("incomplete")]),
  background: T.Boolean(),
  completed_at: T.Union([T.Number(), T.Null()]),
  error: T.Union([T.Object({ code: ResponseErrorCode, message: Str }), T.Null()]),
  incomplete_details: T.Union([T.Object({ reason: T.Union([T.Literal("max_output_tokens"), T.Literal("content_filter")]) }), T.Null()]),
  instructions: T.Union([Str, T.Null()]),
  max_output_tokens: T.Union([T.Integer(), T.Null()]),
  max_tool_calls: T.Union([T.Integer(), T.Null()]),
  model: Str,
  output: T.Array(OutputItem),
  parallel_tool_calls: T.Boolean(),
  previous_response_id: T.Union([Str, T.Null()]),
  prompt_cache_key: T.Union([Str, T.Null()]),
  reasoning: T.Object({ effort: T.Union([Str, T.Null()]), summary: T.Union([Str, T.Null()]) }),
  safety_identifier: T.Union([Str, T.Null()]),
  service_tier: Str,
  store: T.Boolean(),
  temperature: T.Number(),
  text: T.Object({ format: T.Unknown(), verbosity: Str }),
  tool_choice: T.Unknown(),
  tools: T.Array(T.Unknown()),
  top_logprobs: T.Integer(),
  top_p: T.Number(),
  truncation: T.Union([T.Literal("auto"), T.Literal("disabled")]),
  usage: T.Optional(ResponseUsage),
  user: OptStr,
  metadata: T.Record(T.String(), T.String()),
});

export type OutputMessage = Static<typeof OutputMessage>;
export type OutputFunctionCall = Static<typeof OutputFunctionCall>;
export type OutputCustomToolCall = Static<typeof OutputCustomToolCall>;
export type OutputReasoning = Static<typeof OutputReasoning>;
export type OutputItem = Static<typeof OutputItem>;
export type ResponseUsage = Static<typeof ResponseUsage>;
export type ResponseErrorCode = Static<typeof ResponseErrorCode>;
export type ResponseObject = Static<typeof ResponseObject>;
/** What the store keeps per turn: this turn's input items and the answer's output items, in order. */
export type ResponseItem = InputItem | OutputItem;

// ── stream events (https://platform.openai.com/docs/api-reference/responses-streaming) ──────────────────────────
const Seq = { sequence_number: T.Integer() };
const At = { item_id: Str, output_index: T.Integer() };
const Part = T.Union([OutputText, OutputRefusal]);
export const ResponseStreamEvent = T.Union([
  T.Object({ type: T.Literal("response.created"), response: ResponseObject, ...Seq }),
  T.Object({ type: T.Literal("response.in_progress"), response: ResponseObject, ...Seq }),
  T.Object({ type: T.Literal("response.output_item.added"), output_index: T.Integer(), item: OutputItem, ...Seq }),
  T.Object({ type: T.Literal("response.output_item.done"), output_index: T.Integer(), item: OutputItem, ...Seq }),
  T.Object({ type: T.Literal("response.content_part.added"), ...At, content_index: T.Integer(), part: Part, ...Seq }),
  T.Object({ type: T.Literal("response.content_part.done"), ...At, content_index: T.Integer(), part: Part, ...Seq }),
  T.Object({ type: T.Literal("response.output_text.delta"), ...At, content_index: T.Integer(), delta: Str, logprobs: T.Array(T.Unknown()), ...Seq }),
  T.Object({ type: T.Literal("response.output_text.done"), ...At, content_index: T.Integer(), text: Str, logprobs: T.Array(T.Unknown()), ...Seq }),
  T.Object({ type: T.Literal("response.refusal.delta"), ...At, content_index: T.Integer(), delta: Str, ...Seq }),
  T.Object({ type: T.Literal("response.refusal.done"), ...At, content_index: T.Integer(), refusal: Str, ...Seq }),
  T.Object({ type: T.Literal("response.function_call_arguments.delta"), ...At, delta: Str, ...Seq }),
  T.Object({ type: T.Literal("response.function_call_arguments.done"), ...At, name: Str, arguments: Str, ...Seq }),
  T.Object({ type: T.Literal("response.custom_tool_call_input.delta"), ...At, delta: Str, ...Seq }),
  T.Object({ type: T.Literal("response.custom_tool_call_input.done"), ...At, input: Str, ...Seq }),
  T.Object({ type: T.Literal("response.reasoning_summary_part.added"), ...At, summary_index: T.Integer(), part: SummaryText, ...Seq }),
  T.Object({ type: T.Literal("response.reasoning_summary_part.done"), ...At, summary_index: T.Integer(), part: SummaryText, ...Seq }),
  T.Object({ type: T.Literal("response.reasoning_summary_text.delta"), ...At, summary_index: T.Integer(), delta: Str, ...Seq }),
  T.Object({ type: T.Literal("response.reasoning_summary_text.done"), ...At, summary_index: T.Integer(), text: Str, ...Seq }),
  T.Object({ type: T.Literal("response.completed"), response: ResponseObject, ...Seq }),
  T.Object({ type: T.Literal("response.incomplete"), response: ResponseObject, ...Seq }),
  T.Object({ type: T.Literal("response.failed"), response: ResponseObject, ...Seq }),
]);
export type ResponseStreamEvent = Static<typeof ResponseStreamEvent>;
