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

/** Default behaviour: tool call when tool_choice names a function, else "Hello from mock" as JSON or SSE. */
export const defaultScript: Script = (call) => {
  const b = call.body;
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
