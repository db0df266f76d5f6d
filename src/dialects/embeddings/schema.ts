// The OpenAI Embeddings wire format (`POST /v1/embeddings`): the request as clients send it and the list answer.
// Request keys Alloy does not know stay on the object: OpenAI-type upstreams get the request unchanged.
import { Type as T, type Static } from "@sinclair/typebox";

const Open = { additionalProperties: true } as const;

/** What one request may carry at most, as OpenAI documents it. */
export const EMBEDDING_LIMITS = { inputs: 2048 } as const;

/** A string, a list of strings, one token array or a list of token arrays. */
export const EmbeddingsInput = T.Union([T.String(), T.Array(T.String()), T.Array(T.Integer()), T.Array(T.Array(T.Integer()))]);

export const EmbeddingsRequest = T.Object(
  {
    model: T.String({ minLength: 1 }),
    input: EmbeddingsInput,
    encoding_format: T.Optional(T.Union([T.Literal("float"), T.Literal("base64")])),
    dimensions: T.Optional(T.Integer({ minimum: 1 })),
    user: T.Optional(T.String()),
  },
  Open,
);

export const Embedding = T.Object(
  {
    object: T.Literal("embedding"),
    index: T.Integer({ minimum: 0 }),
    /** Floats, or (encoding_format "base64") the little-endian float32 bytes in base64. */
    embedding: T.Union([T.Array(T.Number()), T.String()]),
  },
  Open,
);

export const EmbeddingsUsage = T.Object({ prompt_tokens: T.Integer({ minimum: 0 }), total_tokens: T.Integer({ minimum: 0 }) }, Open);

export const EmbeddingsResponse = T.Object(
  {
    object: T.Literal("list"),
    data: T.Array(Embedding),
    model: T.String(),
    usage: EmbeddingsUsage,
  },
  Open,
);

/**
 * A passthrough answer as relayed: the upstream's bytes, and only what the gateway reads of them (usage, model). A
 * list of vectors is large (8 × 256 floats are 40 KB, ~0.4 ms to parse): the relay finds these two instead.
 */
export interface RelayedEmbeddings {
  raw: string;
  usage: Static<typeof EmbeddingsUsage>;
  model: string | undefined;
}

export type EmbeddingsRequest = Static<typeof EmbeddingsRequest>;
export type EmbeddingsResponse = Static<typeof EmbeddingsResponse>;
export type Embedding = Static<typeof Embedding>;

/** A request's inputs, one shape: texts, or token arrays (only OpenAI models and the mock take those). */
export type Inputs = { kind: "text"; texts: string[] } | { kind: "tokens"; tokens: number[][] };
