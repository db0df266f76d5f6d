// Answers out: float vectors into OpenAI's list (as floats, or base64 of little-endian float32 as OpenAI sends them
// for encoding_format "base64"), and the usage the access line reads.
import type { Usage } from "../../openai/schema.ts";
import type { EmbeddingsResponse } from "./schema.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One vector as OpenAI's base64: its float32 values, little-endian, base64-encoded. */
export function float32Base64(v: readonly number[]): string {
  const f = new Float32Array(v);
  if (!LITTLE_ENDIAN) {
    const dv = new DataView(f.buffer);
    for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i]!, true);
  }
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString("base64");
}

/** The inverse (for tests and clients): base64 little-endian float32 → numbers. */
export function base64Float32(s: string): number[] {
  const b = Buffer.from(s, "base64");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Array<number>(b.byteLength >> 2);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** OpenAI's list answer from vectors in input order. */
export function embeddingsList(vectors: readonly number[][], model: string, promptTokens: number): EmbeddingsResponse {
  return {
    object: "list",
    data: vectors.map((embedding, index) => ({ object: "embedding", index, embedding })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

/** The answer in the encoding the client asked for: float vectors become base64 strings when it asked for those. */
export function encodeEmbeddings(res: EmbeddingsResponse, format: "float" | "base64" | undefined): EmbeddingsResponse {
  if (format !== "base64") return res;
  return { ...res, data: res.data.map((d) => (typeof d.embedding === "string" ? d : { ...d, embedding: float32Base64(d.embedding) })) };
}

/** An embeddings answer's usage in the unified shape the access record, metrics and key limits read. */
export function embeddingsUsage(u: { prompt_tokens?: unknown; total_tokens?: unknown } | undefined): Usage | undefined {
  if (!u || typeof u !== "object") return undefined;
  const prompt = typeof u.prompt_tokens === "number" ? u.prompt_tokens : 0;
  const total = typeof u.total_tokens === "number" ? u.total_tokens : prompt;
  return { prompt_tokens: prompt, completion_tokens: 0, total_tokens: total };
}
