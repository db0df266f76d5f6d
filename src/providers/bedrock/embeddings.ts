// Embeddings on Bedrock through InvokeModel, as the model cards document the bodies:
// - Amazon Titan Text Embeddings v2 (`amazon.titan-embed-text-v2:0`): one text per call,
//   `{"inputText", "dimensions": 256|512|1024, "normalize": true}` → `{"embedding": [...], "inputTextTokenCount"}`;
// - Cohere Embed v3 (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`): up to 96 texts per call,
//   `{"texts": [...], "input_type"}` → `{"embeddings": [[...]], "id", "response_type": "embeddings_floats", "texts"}`,
//   its token count in the `X-Amzn-Bedrock-Input-Token-Count` header.
// Pure: the bodies and the answers' reading; bedrock.ts sends them.
import { AlloyError } from "../../errors.ts";
import type { EmbeddingsRequest, Inputs } from "../../dialects/embeddings/schema.ts";

export type EmbeddingFamily = "titan-v2" | "cohere-v3";

const TITAN_V2 = /(^|[./])amazon\.titan-embed-text-v2/;
const COHERE_V3 = /(^|[./])cohere\.embed-(english|multilingual)-v3/;
export const TITAN_DIMENSIONS = [256, 512, 1024];
/** Cohere Embed v3's one size. */
export const COHERE_DIMENSIONS = 1024;
export const COHERE_BATCH = 96;
export const COHERE_INPUT_TYPES = ["search_document", "search_query", "classification", "clustering"];

/** Which documented body a Bedrock model id takes (inference profiles and ARNs included), or undefined. */
export function embeddingFamily(modelId: string): EmbeddingFamily | undefined {
  if (TITAN_V2.test(modelId)) return "titan-v2";
  if (COHERE_V3.test(modelId)) return "cohere-v3";
  return undefined;
}

const bad = (message: string, param: string | null = null) => new AlloyError("bad_request", message, { param });

/** One planned InvokeModel call: its body and which inputs (by index) it embeds. */
export interface EmbedCall {
  body: string;
  first: number;
  count: number;
}

/** The calls a request becomes, or a 400 for what the model cannot do. */
export function planEmbeddings(family: EmbeddingFamily, modelId: string, req: EmbeddingsRequest, inputs: Inputs): EmbedCall[] {
  if (inputs.kind !== "text") throw bad(`The model '${req.model}' takes text input; token arrays are only for OpenAI models`, "input");
  const texts = inputs.texts;
  if (family === "titan-v2") {
    if (req.dimensions !== undefined && !TITAN_DIMENSIONS.includes(req.dimensions))
      throw bad(`Invalid 'dimensions': ${modelId} supports ${TITAN_DIMENSIONS.join(", ")}, got ${req.dimensions}`, "dimensions");
    const extra = req.dimensions === undefined ? {} : { dimensions: req.dimensions };
    return texts.map((inputText, i) => ({ body: JSON.stringify({ inputText, ...extra, normalize: true }), first: i, count: 1 }));
  }
  if (req.dimensions !== undefined && req.dimensions !== COHERE_DIMENSIONS)
    throw bad(`Invalid 'dimensions': ${modelId} has ${COHERE_DIMENSIONS} dimensions only, got ${req.dimensions}`, "dimensions");
  const given = (req as Record<string, unknown>).input_type;
  if (given !== undefined && (typeof given !== "string" || !COHERE_INPUT_TYPES.includes(given)))
    throw bad(`Invalid 'input_type': expected one of ${COHERE_INPUT_TYPES.join(", ")}, got ${JSON.stringify(given)?.slice(0, 80)}`, "input_type");
  const input_type = (given as string | undefined) ?? "search_document";
  const calls: EmbedCall[] = [];
  for (let first = 0; first < texts.length; first += COHERE_BATCH) {
    const batch = texts.slice(first, first + COHERE_BATCH);
    calls.push({ body: JSON.stringify({ texts: batch, input_type }), first, count: batch.length });
  }
  return calls;
}

const isVector = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number");

/** One answer's vectors and tokens; `headerTokens` is X-Amzn-Bedrock-Input-Token-Count. */
export function readEmbedAnswer(family: EmbeddingFamily, provider: string, json: unknown, count: number, headerTokens: string | null): { vectors: number[][]; tokens: number } {
  const header = Number(headerTokens);
  const fromHeader = headerTokens !== null && Number.isFinite(header) && header >= 0 ? header : 0;
  const j = (json ?? {}) as Record<string, unknown>;
  if (family === "titan-v2") {
    if (!isVector(j.embedding)) throw new AlloyError("server", `${provider} returned a Titan answer without an embedding`);
    const tokens = typeof j.inputTextTokenCount === "number" ? j.inputTextTokenCount : fromHeader;
    return { vectors: [j.embedding], tokens };
  }
  const e = j.embeddings;
  if (!Array.isArray(e) || e.length !== count || !e.every(isVector))
    throw new AlloyError("server", `${provider} returned a Cohere answer without ${count} embeddings`);
  return { vectors: e, tokens: fromHeader };
}
