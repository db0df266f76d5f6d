// AWS Bedrock through the Converse API: every Bedrock chat model (and inference profile) behind one OpenAI-shaped
// provider. The AWS SDK signs and frames; the translation lives in bedrock/ as pure functions.
import type { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { Type as T } from "@sinclair/typebox";
import { AlloyError, asAlloyError } from "../errors.ts";
import type { ChatChunk, ChatRequest, ChatResponse } from "../openai/schema.ts";
import type { ProviderConfig } from "../config/schema.ts";
import { createBedrockClient, loadBedrockSdk, type BedrockClientOptions, type BedrockSdk } from "./bedrock/client.ts";
import { fromSdkError } from "./bedrock/errors.ts";
import { toConverseRequest } from "./bedrock/request.ts";
import { fromConverseResponse } from "./bedrock/response.ts";
import { finish, newStreamState, step } from "./bedrock/stream.ts";
import type { CallOptions, Piece, Provider, ProviderModule, Reply } from "./provider.ts";

export type BedrockConfig = ProviderConfig & Partial<BedrockClientOptions>;

const chatId = (awsRequestId?: string) => `chatcmpl-${awsRequestId ?? crypto.randomUUID()}`;
const now = () => Math.floor(Date.now() / 1000);

export class BedrockProvider implements Provider {
  /** One client per provider, made on first use (with the SDK itself; see bedrock/client.ts). */
  private sdk: { api: BedrockSdk; client: BedrockRuntimeClient } | undefined;

  constructor(
    readonly name: string,
    private readonly cfg: BedrockConfig & { region: string },
  ) {}

  private async ready() {
    if (this.sdk) return this.sdk;
    const api = await loadBedrockSdk();
    return (this.sdk ??= { api, client: createBedrockClient(api, this.cfg) });
  }

  /** Our abort reason (timeout, client gone) wins over whatever the SDK made of the abort. */
  private fail(e: unknown, signal: AbortSignal): AlloyError {
    if (signal.aborted) return asAlloyError(signal.reason);
    return fromSdkError(this.name, e);
  }

  async chat(req: ChatRequest, o: CallOptions): Promise<Reply<ChatResponse>> {
    const input = toConverseRequest(req, o.model);
    const { api, client } = await this.ready();
    try {
      const out = await client.send(new api.ConverseCommand(input), { abortSignal: o.signal });
      return { value: fromConverseResponse(out, { id: chatId(out.$metadata.requestId), model: req.model, created: now() }) };
    } catch (e) {
      throw this.fail(e, o.signal);
    }
  }

  async *chatStream(req: ChatRequest, o: CallOptions): AsyncGenerator<Piece> {
    const input = toConverseRequest(req, o.model);
    let stream: AsyncIterable<Parameters<typeof step>[1]> | undefined;
    let requestId: string | undefined;
    const { api, client } = await this.ready();
    try {
      const out = await client.send(new api.ConverseStreamCommand(input), { abortSignal: o.signal });
      stream = out.stream;
      requestId = out.$metadata.requestId;
    } catch (e) {
      throw this.fail(e, o.signal);
    }
    if (!stream) throw new AlloyError("server", `${this.name} answered without an event stream`);
    const state = newStreamState({ provider: this.name, id: chatId(requestId), model: req.model, created: now() });
    try {
      for await (const event of stream) for (const chunk of step(state, event)) yield { chunk };
      for (const chunk of finish(state)) yield { chunk };
    } catch (e) {
      throw this.fail(e, o.signal);
    }
  }

  close(): void {
    this.sdk?.client.destroy();
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
  create: (name, cfg) => new BedrockProvider(name, { ...cfg, region: cfg.region! }),
};
