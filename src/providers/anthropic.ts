// Anthropic Messages API behind the Provider interface. The translation lives in ./anthropic/ as pure functions
// (request, response, events, stream); this file is the I/O: headers, POST, error bodies, feeding stream events.
import { Type as T } from "@sinclair/typebox";
import { callHeaders, localChatId, streamFailure, unixNow } from "./kit.ts";
import type { ProviderConfig } from "../config/schema.ts";
import { AlloyError, asAlloyError } from "../errors.ts";
import type { ChatChunk, ChatRequest, ChatResponse } from "../openai/schema.ts";
import { parseAnthropicError } from "./anthropic/errors.ts";
import { parseEvent } from "./anthropic/events.ts";
import { toAnthropicRequest, type Translated } from "./anthropic/request.ts";
import { fromAnthropicResponse } from "./anthropic/response.ts";
import { AnthropicResponse } from "./anthropic/schema.ts";
import { finish, initStream, step } from "./anthropic/stream.ts";
import type { CallOptions, NativeMessages, NativeMessagesOptions, Piece, Provider, ProviderModule, Reply } from "./provider.ts";
import type { SseFrame } from "./sse.ts";
import { streamError } from "./anthropic/errors.ts";
import { sseBatches, sseFrames } from "./sse.ts";
import { DEFAULT_LIMITS, post, readJson, streamBody, type UpstreamLimits } from "./upstream.ts";
import { LazyCheck } from "../util/lazy-check.ts";

export interface AnthropicConfig extends ProviderConfig {
  anthropic_version: string;
  default_max_tokens: number;
  /** Sent as `anthropic-beta` (comma-joined), e.g. ["context-1m-2025-08-07"]. */
  beta?: string[];
}

const checkResponse = new LazyCheck(AnthropicResponse);


export class AnthropicProvider implements Provider, NativeMessages {
  readonly nativeMessages: NativeMessages = this;
  private readonly base: string;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly defaultMaxTokens: number;
  private readonly sse: { provider: string; maxEventSize: number };

  constructor(
    readonly name: string,
    cfg: AnthropicConfig,
    private readonly limits: UpstreamLimits = DEFAULT_LIMITS,
  ) {
    this.sse = { provider: name, maxEventSize: limits.maxEventSize };
    this.base = cfg.base_url!.replace(/\/+$/, "");
    this.url = `${this.base}/v1/messages`;
    this.defaultMaxTokens = cfg.default_max_tokens;
    // Built once: the only per-request header is the request id. The client's own key never goes upstream.
    this.headers = {
      "content-type": "application/json",
      accept: "application/json",
      "x-api-key": cfg.api_key!,
      "anthropic-version": cfg.anthropic_version,
    };
    if (cfg.beta?.length) this.headers["anthropic-beta"] = cfg.beta.join(",");
  }

  private async send(req: ChatRequest, o: CallOptions, stream: boolean): Promise<{ res: Response; t: Translated }> {
    const t = toAnthropicRequest(req, { model: o.model, defaultMaxTokens: this.defaultMaxTokens });
    const body = stream ? { ...t.body, stream: true } : t.body;
    const res = await post(this.name, this.url, callHeaders(this.headers, o), JSON.stringify(body), o.signal);
    return { res, t }; // its status is checked by readJson / streamBody
  }

  /** The client's version and betas win over the configured ones (Claude Code relies on its betas). */
  private nativeHeaders(o: NativeMessagesOptions): Record<string, string> {
    const h: Record<string, string> = callHeaders(this.headers, o);
    if (o.version) h["anthropic-version"] = o.version;
    if (o.beta) h["anthropic-beta"] = o.beta;
    return h;
  }

  async messages(body: Record<string, unknown>, o: NativeMessagesOptions): Promise<Reply<unknown>> {
    return this.nativeJson(this.url, { ...body, model: o.model, stream: undefined }, o);
  }

  async countTokens(body: Record<string, unknown>, o: NativeMessagesOptions): Promise<Reply<unknown>> {
    return this.nativeJson(`${this.url}/count_tokens`, { ...body, model: o.model }, o);
  }

  private async nativeJson(url: string, body: Record<string, unknown>, o: NativeMessagesOptions): Promise<Reply<unknown>> {
    const res = await post(this.name, url, this.nativeHeaders(o), JSON.stringify(body), o.signal);
    const { json, text } = await readJson(res, this.name, this.limits.maxResponseSize, o.signal, parseAnthropicError);
    return { value: json, raw: text };
  }

  async *messagesStream(body: Record<string, unknown>, o: NativeMessagesOptions): AsyncGenerator<SseFrame[]> {
    const res = await post(this.name, this.url, this.nativeHeaders(o), JSON.stringify({ ...body, model: o.model, stream: true }), o.signal);
    const events = await streamBody(res, this.name, parseAnthropicError);
    let stopped = false;
    try {
      // What one read brought goes on together (one write to the client); an error event fails the stream before it.
      for await (const frames of sseBatches(events, this.sse)) {
        for (let i = 0; i < frames.length; i++) {
          const frame = frames[i]!;
          if (frame.event === "error") {
            const e = parseEvent(frame);
            if (e.type === "error") {
              if (i > 0) yield frames.slice(0, i);
              throw streamError(e.error);
            }
          }
          if (frame.event === "message_stop") stopped = true;
        }
        yield frames;
      }
    } catch (e) {
      throw streamFailure(e, o.signal);
    }
    if (!stopped) throw new AlloyError("server", `${this.name} stream ended before message_stop (the answer was cut short)`);
  }

  async chat(req: ChatRequest, o: CallOptions): Promise<Reply<ChatResponse>> {
    const { res, t } = await this.send(req, o, false);
    const { json } = await readJson(res, this.name, this.limits.maxResponseSize, o.signal, parseAnthropicError);
    if (!checkResponse.Check(json)) throw new AlloyError("server", `${this.name} returned an unexpected body`);
    return { value: fromAnthropicResponse(json, { model: req.model, created: unixNow(), jsonTool: t.jsonTool }) };
  }

  async *chatStream(req: ChatRequest, o: CallOptions): AsyncGenerator<Piece> {
    const { res, t } = await this.send(req, o, true);
    const events = await streamBody(res, this.name, parseAnthropicError);
    const state = initStream({ model: req.model, created: unixNow(), id: localChatId(), jsonTool: t.jsonTool });
    try {
      for await (const frame of sseFrames(events, this.sse)) {
        for (const chunk of step(state, parseEvent(frame))) yield { chunk };
        if (state.stopped) break;
      }
    } catch (e) {
      throw streamFailure(e, o.signal);
    }
    for (const chunk of finish(state)) yield { chunk };
  }
}


export const anthropicModule: ProviderModule<AnthropicConfig> = {
  type: "anthropic",
  family: /^claude-/,
  envKey: "ANTHROPIC_API_KEY",
  options: {
    anthropic_version: T.String({ minLength: 1, default: "2023-06-01" }),
    default_max_tokens: T.Integer({ minimum: 1, default: 4096 }),
    beta: T.Optional(T.Array(T.String({ minLength: 1 }))),
  },
  resolve(name, cfg, { env }) {
    // ANTHROPIC_API_KEY for [providers.anthropic], <NAME>_API_KEY for any other name; the environment wins.
    const envVar = `${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY`;
    const api_key = env[envVar] || cfg.api_key;
    if (!api_key) return { cfg, inactive: `no API key (set ${envVar} or providers.${name}.api_key)` };
    return { cfg: { ...cfg, api_key, base_url: cfg.base_url ?? "https://api.anthropic.com" } };
  },
  create: (name, cfg, limits) => new AnthropicProvider(name, cfg, limits),
};
