// The embeddings codecs: validation's shapes, base64 as OpenAI encodes it, the mock's vectors, Bedrock's plans.
import { describe, expect, test } from "bun:test";
import { inputsOf, validateEmbeddingsRequest } from "../../src/dialects/embeddings/decode.ts";
import { base64Float32, embeddingsList, embeddingsUsage, encodeEmbeddings, float32Base64 } from "../../src/dialects/embeddings/encode.ts";
import { embeddingFamily, planEmbeddings, readEmbedAnswer } from "../../src/providers/bedrock/embeddings.ts";
import { mockVector } from "../../src/providers/mock/embeddings.ts";
import { mapLimited } from "../../src/util/pool.ts";

describe("decode", () => {
  test("every input shape becomes texts or token arrays", () => {
    expect(inputsOf("a")).toEqual({ kind: "text", texts: ["a"] });
    expect(inputsOf(["a", "b"])).toEqual({ kind: "text", texts: ["a", "b"] });
    expect(inputsOf([1, 2])).toEqual({ kind: "tokens", tokens: [[1, 2]] });
    expect(inputsOf([[1], [2, 3]])).toEqual({ kind: "tokens", tokens: [[1], [2, 3]] });
  });

  test("the request object is the client's, unknown keys kept (passthrough)", () => {
    const body = { model: "m", input: "x", input_type: "search_query", dimensions: 3 };
    expect(validateEmbeddingsRequest(body).req).toBe(body as never);
  });

  test("2,049 inputs are refused without walking them", () => {
    expect(() => validateEmbeddingsRequest({ model: "m", input: new Array(2049).fill(null) })).toThrow("at most 2048 inputs, got 2049");
  });
});

describe("encode", () => {
  test("base64 is little-endian float32, as OpenAI sends it", () => {
    const v = [0.5, -1, 0.1];
    const b = Buffer.from(float32Base64(v), "base64");
    expect(b.byteLength).toBe(12);
    expect([b.readFloatLE(0), b.readFloatLE(4), b.readFloatLE(8)]).toEqual(v.map(Math.fround));
    expect(base64Float32(float32Base64(v))).toEqual(v.map(Math.fround));
  });

  test("the list, encoded as asked; usage in the unified shape", () => {
    const list = embeddingsList([[1, 0], [0, 1]], "m", 7);
    expect(list).toEqual({
      object: "list",
      data: [{ object: "embedding", index: 0, embedding: [1, 0] }, { object: "embedding", index: 1, embedding: [0, 1] }],
      model: "m",
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
    expect(encodeEmbeddings(list, "float")).toBe(list);
    expect(encodeEmbeddings(list, "base64").data[1]!.embedding).toBe(float32Base64([0, 1]));
    expect(embeddingsUsage(list.usage)).toEqual({ prompt_tokens: 7, completion_tokens: 0, total_tokens: 7 });
  });
});

describe("mock vectors", () => {
  test("deterministic, unit length, input-dependent", () => {
    const a = mockVector("hello", 256);
    expect(mockVector("hello", 256)).toEqual(a);
    expect(mockVector("hellp", 256)).not.toEqual(a);
    expect(Math.abs(Math.hypot(...a) - 1)).toBeLessThan(1e-5);
    expect(a.every((x) => x === Math.fround(x))).toBe(true);
  });
});

describe("Bedrock plans", () => {
  const req = (extra: object = {}) => ({ model: "client-name", input: "x", ...extra });
  test("families by id, inference profiles and ARNs included", () => {
    expect(embeddingFamily("amazon.titan-embed-text-v2:0")).toBe("titan-v2");
    expect(embeddingFamily("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")).toBe("titan-v2");
    expect(embeddingFamily("us.cohere.embed-multilingual-v3")).toBe("cohere-v3");
    expect(embeddingFamily("amazon.titan-text-express-v1")).toBeUndefined();
  });

  test("Titan: one body per text; Cohere: 96 per body", () => {
    const titan = planEmbeddings("titan-v2", "amazon.titan-embed-text-v2:0", req({ dimensions: 512 }), { kind: "text", texts: ["a", "b"] });
    expect(titan.map((c) => JSON.parse(c.body))).toEqual([{ inputText: "a", dimensions: 512, normalize: true }, { inputText: "b", dimensions: 512, normalize: true }]);
    const texts = Array.from({ length: 193 }, (_, i) => `t${i}`);
    const cohere = planEmbeddings("cohere-v3", "cohere.embed-english-v3", req(), { kind: "text", texts });
    expect(cohere.map((c) => [c.first, c.count])).toEqual([[0, 96], [96, 96], [192, 1]]);
    expect(JSON.parse(cohere[2]!.body)).toEqual({ texts: ["t192"], input_type: "search_document" });
  });

  test("answers: vectors checked, Cohere's tokens from the header", () => {
    expect(readEmbedAnswer("cohere-v3", "b", { embeddings: [[1], [2]] }, 2, "11")).toEqual({ vectors: [[1], [2]], tokens: 11 });
    expect(() => readEmbedAnswer("cohere-v3", "b", { embeddings: [[1]] }, 2, "1")).toThrow("without 2 embeddings");
    expect(readEmbedAnswer("titan-v2", "b", { embedding: [0.5], inputTextTokenCount: 3 }, 1, null)).toEqual({ vectors: [[0.5]], tokens: 3 });
  });
});

test("mapLimited keeps order and the limit", async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapLimited([5, 1, 4, 2, 3], 2, async (x) => {
    most = Math.max(most, ++inFlight);
    await Promise.resolve();
    inFlight--;
    return x * 10;
  });
  expect(out).toEqual([50, 10, 40, 20, 30]);
  expect(most).toBe(2);
});
