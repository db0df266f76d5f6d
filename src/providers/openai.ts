// OpenAI and every OpenAI-compatible upstream (Groq, vLLM, Ollama, Azure-style proxies): the request passes through
// with only the model replaced, streams are parsed frame by frame and handed on as chunk objects.
import { Type as T } from "@sinclair/typebox";
import { callHeaders, streamFailure } from "./kit.ts";
import { AlloyError } from "../errors.ts";
import type { ChatChunk, ChatRequest, ChatResponse, Usage } from "../openai/schema.ts";
import type { ProviderConfig } from "../config/schema.ts";
import type { EmbeddingsRequest, EmbeddingsResponse, RelayedEmbeddings } from "../dialects/embeddings/schema.ts";
import { RESPONSES_TERMINAL, type CallOptions, type ChatRelay, type NativeResponses, type Piece, type Provider, type ProviderModule, type Reply } from "./provider.ts";
import { scanChunk, type RelayEvent } from "./openai/scan.ts";
import { sseBatches, sseFrames, type SseFrame } from "./sse.ts";
import { DEFAULT_LIMITS, parseJson, parseOpenAIError, post, readJson, readOk, streamBody, type UpstreamLimits } from "./upstream.ts";
import { SCAN_ABOVE, scanChat, scanEmbeddings, type RelayedChat } from "./openai/scan.ts";

export interface OpenAIConfig extends ProviderConfig {
  /** Extra headers for every upstream call (e.g. `api-key` for Azure-style proxies, `OpenAI-Organization`). */
  headers?: Record<string, string>;
  /**
   * How `/v1/responses` reaches this upstream: `native` (its own Responses API; the default for the provider named
   * `openai`) or `chat` (translated to Chat Completions; the default for other OpenAI-compatible upstreams).
   */
  responses?: "native" | "chat";
}

export class OpenAIProvider implements Provider, ChatRelay, NativeResponses {
  readonly chatRelay: ChatRelay = this;
  readonly nativeResponses?: NativeResponses;
  private readonly url: string;
  private readonly embeddingsUrl: string;
  private readonly responsesUrl: string;
  private readonly headers: Record<string, string>;
  private readonly sse: { provider: string; maxEventSize: number };

  constructor(
    readonly name: string,
    cfg: OpenAIConfig,
    private readonly limits: UpstreamLimits = DEFAULT_LIMITS,
  ) {
    const base = cfg.base_url!.replace(/\/+$/, "");
    this.url = `${base}/chat/completions`;
    this.embeddingsUrl = `${base}/embeddings`;
    this.responsesUrl = `${base}/responses`;
    if (cfg.responses === "native") this.nativeResponses = this;
    // Built once: the only per-request header is the request id.
    this.headers = { "content-type": "application/json", accept: "application/json", ...(cfg.headers ?? {}) };
    if (cfg.api_key) this.headers.authorization = `Bearer ${cfg.api_key}`;
    this.sse = { provider: name, maxEventSize: limits.maxEventSize };
  }

  private send(req: ChatRequest, o: CallOptions, stream: boolean): Promise<Response> {
    const body: Record<string, unknown> = { ...req, model: o.model };
    if (stream) {
      // Always ask for usage so metrics and logs have it; the gateway drops the chunk if the client did not ask.
      body.stream = true;
      body.stream_options = { ...(req.stream_options ?? {}), include_usage: true };
    } else if (req.stream !== undefined || req.stream_options !== undefined) {
      // Left out by JSON.stringify; `delete` would turn the object into a slower dictionary for it.
      body.stream = undefined;
      body.stream_options = undefined;
    }
    return post(this.name, this.url, callHeaders(this.headers, o), JSON.stringify(body), o.signal);
  }

  /** Native Responses call: the body as given (model replaced), the answer's bytes back unchanged. */
  async responses(body: Record<string, unknown>, o: CallOptions): Promise<Reply<unknown>> {
    const res = await post(this.name, this.responsesUrl, callHeaders(this.headers, o), JSON.stringify({ ...body, model: o.model, stream: undefined }), o.signal);
    const { json, text } = await readJson(res, this.name, this.limits.maxResponseSize, o.signal, parseOpenAIError);
    if (!json || typeof json !== "object" || typeof (json as { id?: unknown }).id !== "string")
      throw new AlloyError("server", `${this.name} returned an unexpected body`);
    return { value: json, raw: text };
  }

  /**
   * Native Responses stream: the upstream's events as they come (a batch per read, so what arrived together leaves
   * together), up to and including a terminal event; an error event fails the stream after the events before it.
   */
  async *responsesStream(body: Record<string, unknown>, o: CallOptions): AsyncGenerator<SseFrame[]> {
    const headers = { ...callHeaders(this.headers, o), accept: "text/event-stream" };
    const res = await post(this.name, this.responsesUrl, headers, JSON.stringify({ ...body, model: o.model, stream: true }), o.signal);
    const events = await streamBody(res, this.name, parseOpenAIError);
    let ended = false;
    try {
      for await (const frames of sseBatches(events, this.sse)) {
        let n = 0;
        let stop = false;
        let failure: AlloyError | undefined;
        for (; n < frames.length; n++) {
          const frame = frames[n]!;
          if (frame.data === "[DONE]") {
            stop = true;
            break;
          }
          const type = this.responsesEventType(frame);
          if (type instanceof AlloyError) {
            failure = type;
            break;
          }
          if (RESPONSES_TERMINAL.has(type)) {
            ended = stop = true;
            n++;
            break;
          }
        }
        if (n > 0) yield n === frames.length ? frames : frames.slice(0, n);
        if (failure) throw failure;
        if (stop) break;
      }
    } catch (e) {
      throw streamFailure(e, o.signal);
    }
    if (!ended) throw new AlloyError("server", `${this.name} stream ended before response.completed (the answer was cut short)`);
  }

  /** A Responses stream event's type, or the failure it is (an error event, an unnamed event that is not JSON). */
  private responsesEventType(frame: SseFrame): string | AlloyError {
    // Named events say their type; only unnamed ones (and errors, for their message) are parsed here.
    if (frame.event !== undefined && frame.event !== "error") return frame.event;
    let json: { type?: unknown; message?: string; code?: string; error?: { message?: string } };
    try {
      json = JSON.parse(frame.data);
    } catch {
      return new AlloyError("server", `${this.name} sent a stream event that is not JSON`);
    }
    if (json?.type === "error") return new AlloyError("server", json.message ?? json.error?.message ?? "upstream stream error", { upstreamType: json.code });
    return typeof json?.type === "string" ? json.type : "";
  }

  /**
   * For a client of the same dialect: the answer's bytes go out as they came, so a large answer (a long document, a
   * big tool call) is scanned for usage and finish rather than parsed whole; small ones are parsed and checked.
   */
  async relayChat(req: ChatRequest, o: CallOptions): Promise<RelayedChat> {
    const res = await this.send(req, o, false);
    const text = await readOk(res, this.name, this.limits.maxResponseSize, o.signal, parseOpenAIError);
    if (text.length >= SCAN_ABOVE) {
      const found = scanChat(text);
      if (found) return { raw: text, ...found };
    }
    const json = parseJson(text, this.name);
    if (!isChatResponse(json)) throw new AlloyError("server", `${this.name} returned an unexpected body`);
    const finish = json.choices[0]?.finish_reason;
    return { raw: text, ...(json.usage ? { usage: json.usage } : {}), ...(finish ? { finish } : {}), model: json.model };
  }

  async chat(req: ChatRequest, o: CallOptions): Promise<Reply<ChatResponse>> {
    const res = await this.send(req, o, false);
    const { json, text } = await readJson(res, this.name, this.limits.maxResponseSize, o.signal, parseOpenAIError);
    // Checked, not cast: the rest of the gateway reads choices[0].message and usage.
    if (!isChatResponse(json)) throw new AlloyError("server", `${this.name} returned an unexpected body`);
    // The upstream's own bytes are the answer: the encoder sends them instead of serialising the object again.
    return { value: json, raw: text };
  }

  /** Passthrough: the client's request with only the model replaced; the answer's bytes go back as they came. */
  async embeddings(req: EmbeddingsRequest, _inputs: unknown, o: CallOptions): Promise<Reply<EmbeddingsResponse> | RelayedEmbeddings> {
    const body = JSON.stringify({ ...req, model: o.model });
    const res = await post(this.name, this.embeddingsUrl, callHeaders(this.headers, o), body, o.signal);
    const text = await readOk(res, this.name, this.limits.maxResponseSize, o.signal, parseOpenAIError);
    // The bytes go out as they came; of them the gateway needs usage and model, found without parsing the vectors.
    // Anything that does not look like OpenAI's list is parsed and checked in full.
    const found = scanEmbeddings(text);
    if (found) return { raw: text, ...found };
    const json = parseJson(text, this.name);
    if (!Array.isArray((json as { data?: unknown } | null)?.data)) throw new AlloyError("server", `${this.name} returned an unexpected embeddings body`);
    return { value: json as EmbeddingsResponse, raw: text };
  }

  /**
   * The stream as the upstream's own events, for a client of the same dialect: each event is scanned for the few
   * things the gateway needs (finish, usage) and parsed only when the scan cannot vouch for it. The events of one read
   * come as one batch, so what arrived together leaves in one write. The same rules hold as in chatStream: a stream
   * that ends without a finish_reason (or [DONE]) was cut short.
   */
  async *relayChatStream(req: ChatRequest, o: CallOptions): AsyncGenerator<RelayEvent[]> {
    const res = await this.send(req, o, true);
    const events = await streamBody(res, this.name, parseOpenAIError);
    let finished = false;
    try {
      for await (const frames of sseBatches(events, this.sse)) {
        const out: RelayEvent[] = [];
        for (const frame of frames) {
          const data = frame.data;
          if (data === "[DONE]") {
            if (out.length) yield out;
            return;
          }
          const scan = scanChunk(data);
          if (scan.kind === "chunk") {
            if (scan.finish === undefined) out.push({ data });
            else {
              finished = true;
              out.push({ data, finish: scan.finish });
            }
            continue;
          }
          if (scan.kind === "skip") continue;
          const e = this.relayParsed(data);
          if (!e) continue;
          if (e.finishes) finished = true;
          out.push(e.event);
        }
        if (out.length) yield out;
      }
    } catch (e) {
      throw streamFailure(e, o.signal);
    }
    if (!finished) throw new AlloyError("server", `${this.name} stream ended before a finish_reason (the answer was cut short)`);
  }

  /**
   * A stream event parsed and checked as a chunk; undefined when it carries nothing for the client (Azure's
   * prompt_filter_results, keep-alive objects). Malformed choices are the upstream's failure.
   */
  private parseChunk(data: string): { json: Record<string, unknown>; kind: "ok" | "fixed" | "finish" } | undefined {
    const json = this.parseEvent(data);
    const kind = chunkKind(json);
    if (kind === "skip") return undefined;
    if (kind === "bad") throw new AlloyError("server", `${this.name} sent a stream chunk with malformed choices`);
    return { json, kind };
  }

  /** An event the scan could not vouch for, parsed and checked; undefined when it carries nothing for the client. */
  private relayParsed(data: string): { event: RelayEvent; finishes: boolean } | undefined {
    const parsed = this.parseChunk(data);
    if (!parsed) return undefined;
    const { json, kind } = parsed;
    const choices = json.choices as Array<{ finish_reason?: unknown }>;
    const finish = choices.find((c) => c.finish_reason)?.finish_reason;
    const usage = json.usage && typeof json.usage === "object" ? (json.usage as Usage) : undefined;
    const event: RelayEvent = {
      data: kind === "fixed" ? JSON.stringify(json) : data,
      ...(typeof finish === "string" ? { finish } : {}),
      ...(usage ? { usage } : {}),
      ...(choices.length === 0 ? { usageOnly: true } : {}),
    };
    return { event, finishes: kind === "finish" };
  }

  /** One stream event, parsed and checked: an error event is the upstream's failure. */
  private parseEvent(data: string): Record<string, unknown> {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new AlloyError("server", `${this.name} sent a stream event that is not JSON`);
    }
    if (json === null || typeof json !== "object") throw new AlloyError("server", `${this.name} sent a stream event that is not an object`);
    const j = json as Record<string, unknown>;
    if (j.error) {
      const e = parseOpenAIError(j);
      throw new AlloyError("server", e?.message ?? "upstream stream error", { upstreamType: e?.type });
    }
    return j;
  }

  async *chatStream(req: ChatRequest, o: CallOptions): AsyncGenerator<Piece> {
    const res = await this.send(req, o, true);
    const events = await streamBody(res, this.name, parseOpenAIError);
    // The stream is complete only once a choice finished (or the upstream said [DONE]): a body that just ends was cut.
    let finished = false;
    try {
      for await (const frame of sseFrames(events, this.sse)) {
        if (frame.data === "[DONE]") return;
        const parsed = this.parseChunk(frame.data);
        if (!parsed) continue;
        const { json, kind } = parsed;
        if (kind === "finish") finished = true;
        // Keep the upstream's bytes: an unchanged chunk goes to the client without being serialised again. A chunk
        // chunkKind had to complete (a usage chunk without choices) is serialised afresh.
        yield kind === "fixed" ? { chunk: json as ChatChunk } : { chunk: json as ChatChunk, raw: frame.data };
      }
    } catch (e) {
      throw streamFailure(e, o.signal);
    }
    if (!finished) throw new AlloyError("server", `${this.name} stream ended before a finish_reason (the answer was cut short)`);
  }
}

/** A chat completion the gateway can read: choices with message objects. */
function isChatResponse(v: unknown): v is ChatResponse {
  const c = (v as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(c)) return false;
  for (const choice of c) if (!choice || typeof choice !== "object" || typeof choice.message !== "object" || !choice.message) return false;
  return true;
}

/**
 * What a parsed stream chunk is to the relay: `skip` carries nothing for the client (no choices and no usage), `bad`
 * has choices Alloy cannot read, `finish` ends a choice. A usage chunk has `choices: []` (or none, from some servers).
 */
function chunkKind(json: { choices?: unknown; usage?: unknown }): "ok" | "fixed" | "finish" | "skip" | "bad" {
  const c = json.choices;
  if (!Array.isArray(c)) {
    if (json.usage && typeof json.usage === "object") {
      json.choices = [];
      return "fixed";
    }
    return "skip";
  }
  if (c.length === 0) return json.usage ? "ok" : "skip";
  let finish = false;
  for (const choice of c) {
    if (!choice || typeof choice !== "object") return "bad";
    const d = (choice as { delta?: unknown }).delta;
    // Some compatible servers leave delta out of the finishing chunk: readers get an empty one (the client the
    // upstream's bytes, which lack it just the same).
    if (d === undefined) (choice as { delta?: unknown }).delta = {};
    else if (d === null || typeof d !== "object") return "bad";
    if ((choice as { finish_reason?: unknown }).finish_reason) finish = true;
  }
  return finish ? "finish" : "ok";
}

export const openaiModule: ProviderModule<OpenAIConfig> = {
  type: "openai",
  family: /^(gpt-|o1|o3|o4|chatgpt-|text-embedding-)/,
  envKey: "OPENAI_API_KEY",
  options: {
    headers: T.Optional(T.Record(T.String(), T.String())),
    responses: T.Optional(T.Union([T.Literal("native"), T.Literal("chat")])),
  },
  resolve(name, cfg, { env }) {
    const envVar = `${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY`;
    const api_key = env[envVar] ?? cfg.api_key;
    const base_url = cfg.base_url ?? (name === "openai" ? "https://api.openai.com/v1" : undefined);
    if (!base_url) return { cfg, inactive: `no base_url (an OpenAI-compatible provider needs providers.${name}.base_url)` };
    // api.openai.com always needs a key; self-hosted compatible servers (Ollama, vLLM) often do not.
    if (!api_key && base_url.includes("api.openai.com"))
      return { cfg, inactive: `no API key (set ${envVar} or providers.${name}.api_key)` };
    const responses = cfg.responses ?? (name === "openai" ? "native" : "chat");
    return { cfg: { ...cfg, api_key, base_url, responses } };
  },
  create: (name, cfg, limits) => new OpenAIProvider(name, cfg, limits),
};
