// OpenAI and every OpenAI-compatible upstream (Groq, vLLM, Ollama, Azure-style proxies): the request passes through
// with only the model replaced, streams are parsed frame by frame and handed on as chunk objects.
import { Type as T } from "@sinclair/typebox";
import { AlloyError } from "../errors.ts";
import type { ChatChunk, ChatRequest, ChatResponse } from "../openai/schema.ts";
import type { ProviderConfig } from "../config/schema.ts";
import { RAW_BODY, type CallOptions, type Provider, type ProviderModule } from "./provider.ts";
import { sseFrames } from "./sse.ts";
import { errorFromResponse, parseOpenAIError, post } from "./upstream.ts";

export interface OpenAIConfig extends ProviderConfig {
  /** Extra headers for every upstream call (e.g. `api-key` for Azure-style proxies, `OpenAI-Organization`). */
  headers?: Record<string, string>;
}

export class OpenAIProvider implements Provider {
  readonly type = "openai";
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(
    readonly name: string,
    cfg: OpenAIConfig,
  ) {
    this.url = `${cfg.base_url!.replace(/\/+$/, "")}/chat/completions`;
    // Built once: the only per-request header is the request id.
    this.headers = { "content-type": "application/json", accept: "application/json", ...(cfg.headers ?? {}) };
    if (cfg.api_key) this.headers.authorization = `Bearer ${cfg.api_key}`;
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
    return post(this.url, { ...this.headers, "x-request-id": o.requestId }, JSON.stringify(body), o.signal);
  }

  async chat(req: ChatRequest, o: CallOptions): Promise<ChatResponse> {
    const res = await this.send(req, o, false);
    if (!res.ok) throw await errorFromResponse(res, this.name, parseOpenAIError);
    let json: ChatResponse;
    try {
      const text = await res.text();
      json = JSON.parse(text) as ChatResponse;
      // The upstream's own bytes are the answer: the HTTP layer sends them instead of serialising the object again.
      Object.defineProperty(json, RAW_BODY, { value: text });
    } catch (e) {
      if (o.signal.aborted) throw o.signal.reason;
      throw new AlloyError("server", `${this.name} returned a body that is not JSON`);
    }
    if (!json || !Array.isArray(json.choices)) throw new AlloyError("server", `${this.name} returned an unexpected body`);
    return json;
  }

  async *chatStream(req: ChatRequest, o: CallOptions): AsyncGenerator<ChatChunk> {
    const res = await this.send(req, o, true);
    if (!res.ok) throw await errorFromResponse(res, this.name, parseOpenAIError);
    if (!res.body) throw new AlloyError("server", `${this.name} returned an empty stream`);
    try {
      for await (const frame of sseFrames(res.body)) {
        if (frame.data === "[DONE]") return;
        let json: any;
        try {
          json = JSON.parse(frame.data);
        } catch {
          throw new AlloyError("server", `${this.name} sent a stream event that is not JSON`);
        }
        if (json.error) {
          const e = parseOpenAIError(json);
          throw new AlloyError("server", e?.message ?? "upstream stream error", { upstreamType: e?.type });
        }
        // Keep the upstream's bytes: an unchanged chunk goes to the client without being serialised again.
        Object.defineProperty(json, RAW_BODY, { value: frame.data });
        yield json as ChatChunk;
      }
    } catch (e) {
      if (o.signal.aborted) throw o.signal.reason;
      throw e instanceof AlloyError ? e : new AlloyError("network", `${this.name} stream broke: ${(e as Error).message}`);
    }
  }
}

export const openaiModule: ProviderModule<OpenAIConfig> = {
  type: "openai",
  options: { headers: T.Optional(T.Record(T.String(), T.String())) },
  resolve(name, cfg, { env }) {
    const envVar = `${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY`;
    const api_key = env[envVar] ?? cfg.api_key;
    const base_url = cfg.base_url ?? (name === "openai" ? "https://api.openai.com/v1" : undefined);
    if (!base_url) return { cfg, inactive: `no base_url (an OpenAI-compatible provider needs providers.${name}.base_url)` };
    // api.openai.com always needs a key; self-hosted compatible servers (Ollama, vLLM) often do not.
    if (!api_key && base_url.includes("api.openai.com"))
      return { cfg, inactive: `no API key (set ${envVar} or providers.${name}.api_key)` };
    return { cfg: { ...cfg, api_key, base_url } };
  },
  create: (name, cfg) => new OpenAIProvider(name, cfg),
};
