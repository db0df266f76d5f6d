// A mock OpenAI upstream on a real socket. Emits byte-exact OpenAI JSON and SSE (as api.openai.com formats them),
// records every call, and lets a test script each answer (errors, delays, tool calls, hanging streams).

export interface RecordedCall extends LoggedCall {
  path: string;
  body: any;
}

export type Script = (call: RecordedCall, signal: AbortSignal) => Response | Promise<Response>;

export interface OpenAIMock {
  url: string;
  calls: RecordedCall[];
  /** Highest number of calls in flight at once. */
  maxInFlight: number;
  inFlight: number;
  /** Replace the answer logic (default: echo, stream, tools). */
  script: Script;
  /** Resolves when call number n (1-based) arrives. */
  waitForCall(n: number): Promise<RecordedCall>;
  /** Resolves when some call (call number n, if given) gets aborted by the gateway. */
  waitForAbort(n?: number): Promise<RecordedCall>;
  stop(): void;
}

import { CallLog, type LoggedCall } from "./call-log.ts";
import { frameStream, type StreamOptions } from "./frames.ts";

let idSeq = 0;

export function completion(model: string, content: string | null, extra: { tool_calls?: any[]; finish_reason?: string; usage?: any } = {}) {
  return {
    id: `chatcmpl-mock${++idSeq}`,
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, refusal: null, ...(extra.tool_calls ? { tool_calls: extra.tool_calls } : {}), annotations: [] },
        logprobs: null,
        finish_reason: extra.finish_reason ?? (extra.tool_calls ? "tool_calls" : "stop"),
      },
    ],
    usage: extra.usage ?? { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 } },
    service_tier: "default",
    system_fingerprint: "fp_mock",
  };
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function openaiError(status: number, message: string, type = "invalid_request_error", code: string | null = null, headers: Record<string, string> = {}) {
  return jsonResponse({ error: { message, type, param: null, code } }, status, headers);
}

/** The chunks OpenAI sends for a streamed text answer (and the usage chunk when asked). */
export function textChunks(model: string, words: string[], includeUsage: boolean): any[] {
  const id = `chatcmpl-mock${++idSeq}`;
  const base = { id, object: "chat.completion.chunk", created: 1_700_000_000, model, service_tier: "default", system_fingerprint: "fp_mock" };
  const u = includeUsage ? { usage: null } : {};
  const out: any[] = [{ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "", refusal: null }, logprobs: null, finish_reason: null }], ...u }];
  for (const w of words) out.push({ ...base, choices: [{ index: 0, delta: { content: w }, logprobs: null, finish_reason: null }], ...u });
  out.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }], ...u });
  if (includeUsage) out.push({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: words.length, total_tokens: 12 + words.length } });
  return out;
}

/** The chunks OpenAI sends for streamed tool calls: id/name first, then argument fragments. */
export function toolCallChunks(model: string, calls: Array<{ id: string; name: string; args: string[] }>, includeUsage: boolean): any[] {
  const id = `chatcmpl-mock${++idSeq}`;
  const base = { id, object: "chat.completion.chunk", created: 1_700_000_000, model, system_fingerprint: "fp_mock" };
  const u = includeUsage ? { usage: null } : {};
  const out: any[] = [{ ...base, choices: [{ index: 0, delta: { role: "assistant", content: null }, logprobs: null, finish_reason: null }], ...u }];
  calls.forEach((c, index) => {
    out.push({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] }, logprobs: null, finish_reason: null }], ...u });
    for (const a of c.args) out.push({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: a } }] }, logprobs: null, finish_reason: null }], ...u });
  });
  out.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "tool_calls" }], ...u });
  if (includeUsage) out.push({ ...base, choices: [], usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 } });
  return out;
}

/** An SSE response from chunk objects, optionally pausing between events; `[DONE]` at the end unless told not to. */
export function sseResponse(chunks: unknown[], opts: StreamOptions & { done?: boolean } = {}): Response {
  const frames = chunks.map((c) => (typeof c === "string" ? c : `data: ${JSON.stringify(c)}\n\n`));
  if (opts.done !== false) frames.push("data: [DONE]\n\n");
  return new Response(frameStream(frames, opts), { headers: { "content-type": "text/event-stream; charset=utf-8" } });
}

/** A deterministic float32 vector for a text (unit length): tests recompute what the gateway must relay. */
export function mockEmbedding(text: string, dims: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  const v = Array.from({ length: dims }, (_, i) => Math.cos(h + i * 3.7));
  const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return v.map((x) => Math.fround(x / n));
}

/** OpenAI's own checks of an embeddings body; the message, or undefined when valid. */
export function validateEmbeddings(b: any): string | undefined {
  if (typeof b?.model !== "string") return "you must provide a model parameter";
  const input = b.input;
  const ok =
    (typeof input === "string" && input.length > 0) ||
    (Array.isArray(input) && input.length > 0 && input.length <= 2048 &&
      (input.every((x: unknown) => typeof x === "string" && x.length > 0) ||
        input.every((x: unknown) => Number.isInteger(x)) ||
        input.every((x: unknown) => Array.isArray(x) && x.length > 0 && x.every(Number.isInteger))));
  if (!ok) return "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";
  if (b.encoding_format !== undefined && b.encoding_format !== "float" && b.encoding_format !== "base64")
    return `'${b.encoding_format}' is not one of ['float', 'base64'] - 'encoding_format'`;
  if (b.dimensions !== undefined && !(Number.isInteger(b.dimensions) && b.dimensions >= 1)) return "Invalid 'dimensions'";
  return undefined;
}

/** What api.openai.com answers to a valid embeddings body (text-embedding-3-small: 1536 dimensions by default). */
export function embeddingsAnswer(b: any): Response {
  const invalid = validateEmbeddings(b);
  if (invalid) return openaiError(400, invalid);
  const inputs: string[] =
    typeof b.input === "string" ? [b.input] : typeof b.input[0] === "number" ? [`tokens:${b.input.join(",")}`] : b.input.map((x: any) => (typeof x === "string" ? x : `tokens:${x.join(",")}`));
  const dims = b.dimensions ?? 1536;
  let tokens = 0;
  const data = inputs.map((text, index) => {
    tokens += text.startsWith("tokens:") ? text.split(",").length : text.split(/\s+/).filter(Boolean).length;
    const v = mockEmbedding(text, dims);
    const embedding = b.encoding_format === "base64" ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v;
    return { object: "embedding", index, embedding };
  });
  return jsonResponse({ object: "list", data, model: b.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

/** A native Responses answer as api.openai.com writes it: one message with one output_text part. */
export function nativeResponse(model: string, text: string, id = `resp_native${++idSeq}`) {
  const base = {
    id,
    object: "response",
    created_at: 1_700_000_000,
    status: "completed",
    background: false,
    completed_at: 1_700_000_001,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    max_tool_calls: null,
    model,
    output: [
      { id: `msg_${id}`, type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text, annotations: [], logprobs: [] }] },
    ],
    parallel_tool_calls: true,
    previous_response_id: null,
    prompt_cache_key: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: "default",
    store: true,
    temperature: 1,
    text: { format: { type: "text" }, verbosity: "medium" },
    tool_choice: "auto",
    tools: [],
    top_logprobs: 0,
    top_p: 1,
    truncation: "disabled",
    usage: { input_tokens: 11, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 14 },
    metadata: {},
  };
  return base;
}

/** The named SSE events api.openai.com sends for that answer, `sequence_number` from 0; `cut` stops before the end. */
export function nativeEvents(model: string, words: string[], opts: { cut?: boolean } = {}): string[] {
  const done = nativeResponse(model, words.join(""));
  const msg = done.output[0]!;
  const { output: _o, usage: _u, ...shell } = done;
  const progress = { ...shell, status: "in_progress", completed_at: null, output: [] };
  const at = { item_id: msg.id, output_index: 0, content_index: 0 };
  const events: Record<string, unknown>[] = [
    { type: "response.created", response: progress },
    { type: "response.in_progress", response: progress },
    { type: "response.output_item.added", output_index: 0, item: { ...msg, status: "in_progress", content: [] } },
    { type: "response.content_part.added", ...at, part: { type: "output_text", text: "", annotations: [], logprobs: [] } },
    ...words.map((delta) => ({ type: "response.output_text.delta", ...at, delta, logprobs: [] })),
  ];
  if (!opts.cut)
    events.push(
      { type: "response.output_text.done", ...at, text: words.join(""), logprobs: [] },
      { type: "response.content_part.done", ...at, part: msg.content[0] },
      { type: "response.output_item.done", output_index: 0, item: msg },
      { type: "response.completed", response: done },
    );
  return events.map((e, i) => `event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number: i })}\n\n`);
}

/** Default behaviour: tool call when tool_choice names a function, else "Hello from mock" as JSON or SSE. */
export const defaultScript: Script = (call) => {
  const b = call.body;
  if (call.path.endsWith("/embeddings")) return embeddingsAnswer(b);

  if (call.path.endsWith("/responses")) {
    if (b.stream) return sseResponse(nativeEvents(b.model, ["Hello", " from", " native"]), { done: false });
    return jsonResponse(nativeResponse(b.model, "Hello from native"));
  }
  const named = typeof b.tool_choice === "object" ? b.tool_choice?.function?.name : undefined;
  const includeUsage = b.stream_options?.include_usage === true;
  if (named) {
    const tc = { id: "call_mock1", name: named, args: ['{"city"', ': "Paris"}'] };
    if (b.stream) return sseResponse(toolCallChunks(b.model, [tc], includeUsage));
    return jsonResponse(completion(b.model, null, { tool_calls: [{ id: tc.id, type: "function", function: { name: named, arguments: tc.args.join("") } }] }));
  }
  if (b.stream) return sseResponse(textChunks(b.model, ["Hello", " from", " mock"], includeUsage));
  return jsonResponse(completion(b.model, "Hello from mock"));
};

export function startOpenAIMock(script: Script = defaultScript): OpenAIMock {
  const log = new CallLog<RecordedCall>();
  const mock: OpenAIMock = {
    url: "",
    calls: log.calls,
    maxInFlight: 0,
    inFlight: 0,
    script,
    waitForCall: (n) => log.waitForCall(n),
    waitForAbort: (n) => log.waitForAbort(n),
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method === "GET" && url.pathname.endsWith("/models")) return jsonResponse({ object: "list", data: [] });
      let body: any;
      try {
        body = await req.json();
      } catch {
        return openaiError(400, "We could not parse the JSON body of your request.");
      }
      mock.inFlight++;
      mock.maxInFlight = Math.max(mock.maxInFlight, mock.inFlight);
      let counted = true;
      const leave = () => {
        if (counted) {
          counted = false;
          mock.inFlight--;
        }
      };
      req.signal.addEventListener("abort", leave, { once: true });
      const call = log.add({ n: log.next, path: url.pathname, headers: CallLog.headersOf(req), body, aborted: false }, req.signal);
      try {
        const res = await mock.script(call, req.signal);
        if (!res.body || !(res.headers.get("content-type") ?? "").includes("event-stream")) leave();
        else {
          // Streams are in flight until their body is fully sent.
          const [a, b] = res.body.tee();
          (async () => {
            const r = b.getReader();
            while (!(await r.read()).done);
            leave();
          })().catch(leave);
          return new Response(a, { status: res.status, headers: res.headers });
        }
        return res;
      } catch (e) {
        leave();
        throw e;
      }
    },
  });
  mock.url = `http://127.0.0.1:${server.port}/v1`;
  return mock;
}
