// AWS Bedrock: Converse/ConverseStream behind the OpenAI-shaped Provider interface (every Bedrock chat model and
// inference profile), plus InvokeModel/InvokeModelWithResponseStream for native bodies (Claude's Messages API on
// Bedrock). The translation lives in bedrock/ as pure functions; bedrock/transport.ts signs and sends each call.
import { Type as T } from "@sinclair/typebox";
import { localChatId, unixNow } from "./kit.ts";
import type { ConverseResponse, ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import { AlloyError, asAlloyError } from "../errors.ts";
import type { ChatChunk, ChatRequest, ChatResponse } from "../openai/schema.ts";
import type { ProviderConfig } from "../config/schema.ts";
import type { BedrockClientOptions } from "./bedrock/client.ts";
import { toConverseRequest } from "./bedrock/request.ts";
import { fromConverseResponse } from "./bedrock/response.ts";
import { finish, newStreamState, step } from "./bedrock/stream.ts";
import { BedrockTransport, DEFAULT_MAX_RESPONSE_SIZE } from "./bedrock/transport.ts";
import { countModelId, countTokensRequest, isClaudeModel, toCountBody, toInvokeBody } from "./bedrock/messages.ts";
import { streamError } from "./anthropic/errors.ts";
import type { CallOptions, NativeMessages, NativeMessagesOptions, Piece, Provider, ProviderModule, Reply } from "./provider.ts";
import type { SseFrame } from "./sse.ts";
import { embeddingsList } from "../dialects/embeddings/encode.ts";
import type { EmbeddingsRequest, EmbeddingsResponse, Inputs } from "../dialects/embeddings/schema.ts";
import { embeddingFamily, planEmbeddings, readEmbedAnswer } from "./bedrock/embeddings.ts";
import { mapLimited } from "../util/pool.ts";

export type BedrockConfig = ProviderConfig & Partial<BedrockClientOptions>;

export interface BedrockProviderOptions {
  /** Bytes one answer may have (JSON body or whole event stream); default 32 MiB. */
  maxResponseSize?: number;
}

export interface InvokeOptions {
  signal: AbortSignal;
  /** The body's media type; default application/json. */
  contentType?: string;
  /** The answer's media type; default application/json. */
  accept?: string;
}

export interface InvokeResult {
  /** The model's own answer, as sent (e.g. an Anthropic Messages response for Claude). */
  body: string;
  contentType: string | null;
  requestId: string | undefined;
}

const chatId = (awsRequestId?: string | null) => (awsRequestId ? `chatcmpl-${awsRequestId}` : localChatId());
const now = unixNow;
const utf8 = new TextDecoder();

export class BedrockProvider implements Provider {
  private readonly transport: BedrockTransport;
  /** Claude's Messages API through InvokeModel, for Claude model ids only (the rest take Converse). */
  readonly nativeMessages: NativeMessages = {
    supports: isClaudeModel,
    messages: (body, o) => this.messages(body, o),
    messagesStream: (body, o) => this.messagesStream(body, o),
    countTokens: (body, o) => this.countTokens(body, o),
  };
  /** Embedding calls one request may have in flight (a Titan list fans out one text per call). */
  private readonly fanOut: number;

  constructor(
    readonly name: string,
    cfg: BedrockConfig & { region: string },
    opts: BedrockProviderOptions = {},
  ) {
    this.transport = new BedrockTransport(name, { ...cfg, maxResponseSize: opts.maxResponseSize ?? DEFAULT_MAX_RESPONSE_SIZE });
    this.fanOut = cfg.max_concurrent ?? 64;
  }

  /** Our abort reason (timeout, client gone) wins over whatever the fetch made of the abort. */
  private fail(e: unknown, signal: AbortSignal): AlloyError {
    if (signal.aborted) return asAlloyError(signal.reason);
    return e instanceof AlloyError ? e : new AlloyError("server", `${this.name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }

  async chat(req: ChatRequest, o: CallOptions): Promise<Reply<ChatResponse>> {
    const { modelId, ...input } = toConverseRequest(req, o.model);
    const res = await this.transport.send("converse", modelId!, JSON.stringify(input), { signal: o.signal, unsigned: o.headers });
    let out: ConverseResponse;
    try {
      out = JSON.parse(utf8.decode(await this.transport.readAll(res, o.signal)));
    } catch (e) {
      if (e instanceof AlloyError || o.signal.aborted) throw this.fail(e, o.signal);
      throw new AlloyError("server", `${this.name} returned a body that is not JSON`);
    }
    if (!out || typeof out !== "object") throw new AlloyError("server", `${this.name} returned an unexpected body`);
    return { value: fromConverseResponse(out, { id: chatId(res.headers.get("x-amzn-requestid")), model: req.model, created: now() }) };
  }

  async *chatStream(req: ChatRequest, o: CallOptions): AsyncGenerator<Piece> {
    const { modelId, ...input } = toConverseRequest(req, o.model);
    const res = await this.transport.send("converse-stream", modelId!, JSON.stringify(input), { signal: o.signal, unsigned: o.headers });
    const state = newStreamState({ provider: this.name, id: chatId(res.headers.get("x-amzn-requestid")), model: req.model, created: now() });
    try {
      for await (const ev of this.transport.events(res, o.signal)) {
        let body: unknown;
        try {
          body = JSON.parse(utf8.decode(ev.payload));
        } catch {
          throw new AlloyError("server", `${this.name} sent a ${ev.type} event that is not JSON`);
        }
        for (const chunk of step(state, { [ev.type]: body } as unknown as ConverseStreamOutput)) yield { chunk };
      }
      for (const chunk of finish(state)) yield { chunk };
    } catch (e) {
      throw this.fail(e, o.signal);
    }
  }

  /** InvokeModel: the model's native request body in, its native answer out (no translation). */
  async invoke(modelId: string, body: string | Uint8Array, o: InvokeOptions): Promise<InvokeResult> {
    const res = await this.transport.send("invoke", modelId, body, {
      signal: o.signal,
      headers: { "content-type": o.contentType ?? "application/json", accept: o.accept ?? "application/json" },
    });
    try {
      const text = utf8.decode(await this.transport.readAll(res, o.signal));
      return { body: text, contentType: res.headers.get("content-type"), requestId: res.headers.get("x-amzn-requestid") ?? undefined };
    } catch (e) {
      throw this.fail(e, o.signal);
    }
  }

  /**
   * InvokeModelWithResponseStream: yields each `chunk` event's decoded inner payload (the base64 `bytes` of
   * `{"bytes": …}`), i.e. the model's native stream events as JSON text — for Claude, Anthropic Messages events
   * (`message_start`, `content_block_delta`, …, `message_stop`). Exception frames are thrown as AlloyError.
   */
  async *invokeStream(modelId: string, body: string | Uint8Array, o: InvokeOptions): AsyncGenerator<string> {
    const res = await this.transport.send("invoke-with-response-stream", modelId, body, {
      signal: o.signal,
      headers: { "content-type": o.contentType ?? "application/json", "x-amzn-bedrock-accept": o.accept ?? "application/json" },
    });
    try {
      for await (const ev of this.transport.events(res, o.signal)) {
        if (ev.type !== "chunk") continue;
        let bytes: unknown;
        try {
          bytes = (JSON.parse(utf8.decode(ev.payload)) as { bytes?: unknown }).bytes;
        } catch {
          bytes = undefined;
        }
        if (typeof bytes !== "string") throw new AlloyError("server", `${this.name} sent a chunk event without bytes`);
        yield Buffer.from(bytes, "base64").toString("utf8");
      }
    } catch (e) {
      throw this.fail(e, o.signal);
    }
  }

  /** InvokeModel with the client's Messages body (Bedrock's form of it); the answer is Anthropic's, relayed as sent. */
  async messages(body: Record<string, unknown>, o: NativeMessagesOptions): Promise<Reply<unknown>> {
    const res = await this.invoke(o.model, JSON.stringify(toInvokeBody(body, o.beta)), { signal: o.signal });
    try {
      return { value: JSON.parse(res.body), raw: res.body };
    } catch {
      throw new AlloyError("server", `${this.name} returned a body that is not JSON`);
    }
  }

  /**
   * InvokeModelWithResponseStream: each chunk is one Anthropic event, relayed as `event: <type>` with its JSON as
   * sent. An `error` event is thrown (the route sends it in Anthropic's shape); the stream must reach message_stop.
   */
  async *messagesStream(body: Record<string, unknown>, o: NativeMessagesOptions): AsyncGenerator<SseFrame[]> {
    let stopped = false;
    for await (const data of this.invokeStream(o.model, JSON.stringify(toInvokeBody(body, o.beta)), { signal: o.signal })) {
      let e: { type?: unknown; error?: { type?: unknown; message?: unknown } };
      try {
        e = JSON.parse(data);
      } catch {
        throw new AlloyError("server", `${this.name} sent a stream chunk that is not JSON`);
      }
      if (typeof e?.type !== "string") throw new AlloyError("server", `${this.name} sent a stream chunk without a type`);
      if (e.type === "error") throw streamError({ type: String(e.error?.type ?? "api_error"), message: String(e.error?.message ?? "") });
      if (e.type === "message_stop") stopped = true;
      yield [{ event: e.type, data }];
    }
    if (!stopped) throw new AlloyError("server", `${this.name} stream ended before message_stop (the answer was cut short)`);
  }

  /** Bedrock's CountTokens over the InvokeModel body → Anthropic's `{"input_tokens"}`. */
  async countTokens(body: Record<string, unknown>, o: NativeMessagesOptions): Promise<Reply<unknown>> {
    const res = await this.transport.send("count-tokens", countModelId(o.model), countTokensRequest(toCountBody(body, o.beta)), { signal: o.signal, unsigned: o.headers });
    let n: unknown;
    try {
      n = (JSON.parse(utf8.decode(await this.transport.readAll(res, o.signal))) as { inputTokens?: unknown }).inputTokens;
    } catch (e) {
      if (e instanceof AlloyError || o.signal.aborted) throw this.fail(e, o.signal);
      n = undefined;
    }
    if (typeof n !== "number") throw new AlloyError("server", `${this.name} returned a CountTokens answer without inputTokens`);
    return { value: { input_tokens: n } };
  }

  /**
   * Embeddings through InvokeModel (Titan Text Embeddings v2, Cohere Embed v3; bodies in bedrock/embeddings.ts): the
   * request becomes one call per Titan text or per 96 Cohere texts, vectors in input order. The first runs on the
   * request's own slot; more run beside it only on slots of the provider free right now (never queued for, so a busy
   * provider serves the list one call at a time), so concurrent lists together stay within max_concurrent. The first
   * failure aborts the rest; all answers together are bounded by max_response_size.
   */
  async embeddings(req: EmbeddingsRequest, inputs: Inputs, o: CallOptions): Promise<Reply<EmbeddingsResponse>> {
    const family = embeddingFamily(o.model);
    if (!family)
      throw new AlloyError("bad_request", `The model '${req.model}' does not serve embeddings (on Bedrock: amazon.titan-embed-text-v2:0, cohere.embed-english-v3, cohere.embed-multilingual-v3)`, { param: "model" });
    const calls = planEmbeddings(family, o.model, req, inputs);
    const ac = new AbortController();
    const signal = AbortSignal.any([o.signal, ac.signal]);
    const headers = { "content-type": "application/json", accept: "application/json" };
    let budget = this.transport.maxResponseSize;
    const vectors: number[][] = [];
    let tokens = 0;
    const extra: Array<() => void> = [];
    const want = Math.min(calls.length, this.fanOut) - 1;
    if (o.extraSlot) for (let r; extra.length < want && (r = o.extraSlot()); ) extra.push(r);
    // Outside the dispatcher (direct calls) max_concurrent alone bounds the fan-out.
    const width = o.extraSlot ? 1 + extra.length : want + 1;
    try {
      const answers = await mapLimited(calls, width, async (call) => {
        const res = await this.transport.send("invoke", o.model, call.body, { signal, headers, unsigned: o.headers });
        const bytes = await this.transport.readAll(res, signal, budget);
        budget -= bytes.byteLength;
        let json: unknown;
        try {
          json = JSON.parse(utf8.decode(bytes));
        } catch {
          throw new AlloyError("server", `${this.name} returned a body that is not JSON`);
        }
        return readEmbedAnswer(family, this.name, json, call.count, res.headers.get("x-amzn-bedrock-input-token-count"));
      });
      for (const a of answers) {
        for (const v of a.vectors) vectors.push(v);
        tokens += a.tokens;
      }
    } catch (e) {
      ac.abort();
      throw this.fail(e, o.signal);
    } finally {
      for (const release of extra) release();
    }
    return { value: embeddingsList(vectors, req.model, tokens) };
  }

  close(): void {
    this.transport.close();
  }
}

export const bedrockModule: ProviderModule<BedrockConfig> = {
  type: "bedrock",
  family: /^(arn:aws|(us|eu|apac|us-gov|global)\.[a-z]+\.|anthropic\.|amazon\.|meta\.|mistral\.|cohere\.|ai21\.|deepseek\.|writer\.|qwen\.|openai\.)/,
  envKey: "AWS_REGION",
  options: {
    region: T.Optional(T.String({ minLength: 1 })),
    profile: T.Optional(T.String({ minLength: 1 })),
    /** Endpoint override: VPC interface endpoints, FIPS endpoints, local mocks. */
    endpoint: T.Optional(T.String({ pattern: "^https?://" })),
    access_key_id: T.Optional(T.String({ minLength: 1 })),
    secret_access_key: T.Optional(T.String({ minLength: 1 })),
    session_token: T.Optional(T.String({ minLength: 1 })),
  },
  resolve(name, cfg, { env }) {
    const region = cfg.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) return { cfg, inactive: `no AWS region (set providers.${name}.region or AWS_REGION)` };
    if (!cfg.access_key_id !== !cfg.secret_access_key)
      return { cfg, inactive: `providers.${name}: access_key_id and secret_access_key must be set together` };
    const profile = cfg.profile ?? env.AWS_PROFILE;
    return { cfg: { ...cfg, region, ...(profile ? { profile } : {}) } };
  },
  create: (name, cfg, limits) => new BedrockProvider(name, { ...cfg, region: cfg.region! }, { maxResponseSize: limits.maxResponseSize }),
};
