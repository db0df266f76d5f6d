// /v1/embeddings end to end: the official `openai` client (float and its default base64) and LangChain's
// OpenAIEmbeddings → Alloy → a mock OpenAI upstream (passthrough), a mock Bedrock runtime that checks SigV4 and the
// documented Titan/Cohere bodies, and the keyless mock provider; answers checked against OpenAI's OpenAPI spec.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { OpenAIEmbeddings } from "@langchain/openai";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";
import { validate } from "../helpers/openapi.ts";
import { defaultScript as bedrockDefault, mockEmbedding as bedrockVector, mockTokens, startBedrockMock, type BedrockMock } from "../mocks/bedrock-upstream.ts";
import { defaultScript as openaiDefault, jsonResponse, mockEmbedding, openaiError, startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

const REGION = "us-east-1";
const ACCESS_KEY_ID = "AKIAALLOYEMBED000001";
const SECRET = "alloyEmbedSecret/DoNotLeak+0123456789abcdef";
const KEY = "sk-alloy-embed-test";
const LIMITED = "sk-alloy-embed-mock-only";
const TITAN = "amazon.titan-embed-text-v2:0";
const COHERE = "cohere.embed-english-v3";

let openai: OpenAIMock;
let bedrock: BedrockMock;
let gw: TestGateway;
let client: OpenAI;

async function post(body: unknown, key = KEY): Promise<{ status: number; text: string; json: any; headers: Headers }> {
  const res = await fetch(`${gw.url}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json, headers: res.headers };
}

const lastAccess = async () => {
  await logsSettled();
  return gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request" && l.route === "/v1/embeddings").pop();
};
const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

beforeAll(async () => {
  openai = startOpenAIMock();
  bedrock = startBedrockMock({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, region: REGION });
  gw = await startGateway(`
[server]
timeout_secs = 10
[server.keys.main]
key = "${KEY}"
[server.keys.limited]
key = "${LIMITED}"
models = ["mock/*"]
[providers.openai]
base_url = "${openai.url}"
api_key = "sk-upstream-secret"
[providers.openai_down]
type = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "sk-down"
[providers.bedrock]
region = "${REGION}"
endpoint = "${bedrock.url}"
access_key_id = "${ACCESS_KEY_ID}"
secret_access_key = "${SECRET}"
max_concurrent = 3
[providers.mock]
type = "mock"
default_model = "mock-chat"
[providers.anthropic]
api_key = "sk-ant-x"
base_url = "http://127.0.0.1:9"
[governance]
max_retries = 0
fallback_order = ["mock"]
backoff_base_ms = 1
backoff_max_ms = 2
[models.rag-embed]
targets = ["openai_down/text-embedding-3-small", "openai/text-embedding-3-small"]
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop(false);
  openai.stop();
  bedrock.stop();
});

describe("OpenAI-type providers: passthrough", () => {
  test("float: the request goes upstream unchanged but for the model, vectors and usage come back; the answer conforms", async () => {
    openai.script = openaiDefault;
    const before = openai.calls.length;
    const res = await client.embeddings.create({ model: "openai/text-embedding-3-small", input: ["hello world", "second text"], encoding_format: "float", dimensions: 8, user: "u-42" });
    expect(res.data.map((d) => d.embedding)).toEqual([mockEmbedding("hello world", 8), mockEmbedding("second text", 8)]);
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    const call = openai.calls[before]!;
    expect(call.path).toBe("/v1/embeddings");
    expect(call.body).toEqual({ model: "text-embedding-3-small", input: ["hello world", "second text"], encoding_format: "float", dimensions: 8, user: "u-42" });
    expect(call.headers.authorization).toBe("Bearer sk-upstream-secret");
    const raw = await post({ model: "openai/text-embedding-3-small", input: "x y z", encoding_format: "float" });
    expect(validate("CreateEmbeddingResponse", raw.json)).toEqual([]);
    const access = await lastAccess();
    expect(access).toMatchObject({ status: 200, provider: "openai", model: "openai/text-embedding-3-small", promptTokens: 3, completionTokens: 0, totalTokens: 3 });
  });

  test("the SDK's default base64 passes through and decodes to the upstream's float32 vectors; token arrays too", async () => {
    openai.script = openaiDefault;
    const before = openai.calls.length;
    const res = await client.embeddings.create({ model: "text-embedding-3-small", input: "bare family name" });
    expect(openai.calls[before]!.body.encoding_format).toBe("base64");
    expect(res.data[0]!.embedding).toEqual(mockEmbedding("bare family name", 1536));
    const tokens = await client.embeddings.create({ model: "openai/text-embedding-3-small", input: [[1, 2, 3], [4, 5]], encoding_format: "float" });
    expect(openai.calls[before + 1]!.body.input).toEqual([[1, 2, 3], [4, 5]]);
    expect(tokens.data[1]!.embedding).toEqual(mockEmbedding("tokens:4,5", 1536));
  });

  test("the upstream's bytes are relayed as they came (whitespace, key order, extra fields)", async () => {
    const body = '{ "object":"list",  "model":"text-embedding-3-small", "data":[{"index":0,"object":"embedding","embedding":[0.5,-0.25]}],"usage":{"prompt_tokens":2,"total_tokens":2},"x_extra":true }';
    openai.script = () => new Response(body, { headers: { "content-type": "application/json" } });
    const r = await post({ model: "openai/text-embedding-3-small", input: "a b", encoding_format: "float" });
    expect(r.status).toBe(200);
    expect(r.text).toBe(body);
    openai.script = openaiDefault;
  });

  test("an upstream 400 reaches the client as OpenAI's error; an answer without data is a 502", async () => {
    openai.script = () => openaiError(400, "This model's maximum context length is 8192 tokens", "invalid_request_error");
    const r = await post({ model: "openai/text-embedding-3-small", input: "a" });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain("maximum context length");
    openai.script = () => jsonResponse({ object: "list" });
    const bad = await post({ model: "openai/text-embedding-3-small", input: "a" });
    expect(bad.status).toBe(502);
    expect(bad.json.error.type).toBe("upstream_error");
    openai.script = openaiDefault;
  });

  test("LangChain OpenAIEmbeddings end to end: documents and a query", async () => {
    openai.script = openaiDefault;
    const emb = new OpenAIEmbeddings({ model: "openai/text-embedding-3-small", apiKey: KEY, configuration: { baseURL: `${gw.url}/v1` }, maxRetries: 0 });
    const docs = await emb.embedDocuments(["The Left Hand of Darkness", "The Dispossessed"]);
    expect(docs).toEqual([mockEmbedding("The Left Hand of Darkness", 1536), mockEmbedding("The Dispossessed", 1536)]);
    const q = await emb.embedQuery("Le Guin novels");
    expect(q).toEqual(mockEmbedding("Le Guin novels", 1536));
  });
});

describe("Bedrock: Titan Text Embeddings v2 and Cohere Embed v3 through InvokeModel (SigV4 checked)", () => {
  /** Scripts the mock to answer after `delayMs(call)` and counts the most calls it had in flight at once. */
  function countInFlight(delayMs: (call: { n: number }) => number): { most: number } {
    const seen = { most: 0 };
    let inFlight = 0;
    bedrock.script = async (call, signal) => {
      inFlight++;
      seen.most = Math.max(seen.most, inFlight);
      await Bun.sleep(delayMs(call));
      inFlight--;
      if (signal.aborted) throw new Error("aborted");
      return bedrockDefault(call, signal);
    };
    return seen;
  }

  test("Titan: a list fans out one documented body per text, at most max_concurrent at once, order kept", async () => {
    // Answers in reverse order of arrival, so order can only be kept on purpose.
    const seen = countInFlight((call) => Math.max(1, 30 - call.n * 3));
    const texts = ["one", "two words", "three little words", "four", "five", "six", "seven"];
    const before = bedrock.calls.length;
    const res = await client.embeddings.create({ model: TITAN, input: texts, dimensions: 256, encoding_format: "float" });
    expect(bedrock.rejected).toEqual([]);
    const calls = bedrock.calls.slice(before);
    expect(calls.length).toBe(texts.length);
    for (const c of calls) {
      expect(c.operation).toBe("invoke");
      expect(c.modelId).toBe(TITAN);
      expect(c.headers.authorization).toStartWith(`AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/`);
    }
    expect(calls.map((c) => c.body).sort((a, b) => a.inputText.localeCompare(b.inputText))).toEqual(
      texts.map((inputText) => ({ inputText, dimensions: 256, normalize: true })).sort((a, b) => a.inputText.localeCompare(b.inputText)),
    );
    expect(res.data.map((d) => d.embedding)).toEqual(texts.map((t) => bedrockVector(t, 256)));
    expect(res.model).toBe(TITAN);
    expect(res.usage.prompt_tokens).toBe(texts.reduce((a, t) => a + mockTokens(t), 0));
    expect(seen.most).toBeGreaterThan(1);
    expect(seen.most).toBeLessThanOrEqual(3);
    bedrock.script = bedrockDefault;
  });

  test("Titan: lists sent at once share the provider's max_concurrent (3): never more upstream calls in flight", async () => {
    const seen = countInFlight(() => 5);
    const lists = [0, 1, 2].map((k) => Array.from({ length: 6 }, (_, i) => `list ${k} text ${i}`));
    const answers = await Promise.all(lists.map((input) => client.embeddings.create({ model: TITAN, input, dimensions: 256, encoding_format: "float" })));
    answers.forEach((res, k) => expect(res.data.map((d) => d.embedding)).toEqual(lists[k]!.map((t) => bedrockVector(t, 256))));
    expect(seen.most).toBeGreaterThan(1); // still fanned out
    expect(seen.most).toBeLessThanOrEqual(3);
    bedrock.script = bedrockDefault;
  });

  test("Titan with the SDK's default base64: little-endian float32, decoded to the model's floats; OpenAPI-conformant", async () => {
    bedrock.script = bedrockDefault;
    const res = await client.embeddings.create({ model: `bedrock/${TITAN}`, input: "hello bedrock" });
    expect(res.data[0]!.embedding).toEqual(bedrockVector("hello bedrock", 1024));
    const raw = await post({ model: TITAN, input: ["a", "b"], encoding_format: "base64", dimensions: 512 });
    // The spec types `embedding` as floats only; the base64 answer is the same list with strings in their place.
    expect(validate("CreateEmbeddingResponse", { ...raw.json, data: raw.json.data.map((d: any) => ({ ...d, embedding: [] })) })).toEqual([]);
    expect(typeof raw.json.data[0].embedding).toBe("string");
    const floats = await post({ model: TITAN, input: ["a", "b"], encoding_format: "float" });
    expect(validate("CreateEmbeddingResponse", floats.json)).toEqual([]);
    const b = Buffer.from(raw.json.data[1].embedding, "base64");
    expect(b.byteLength).toBe(512 * 4);
    expect(b.readFloatLE(0)).toBe(bedrockVector("b", 512)[0]!);
    expect(bedrock.calls[bedrock.calls.length - 1]!.body).not.toHaveProperty("encoding_format");
  });

  test("Cohere: batches of 96, input_type search_document by default (or as asked), tokens from the header", async () => {
    bedrock.script = bedrockDefault;
    const texts = Array.from({ length: 100 }, (_, i) => `document number ${i}`);
    const before = bedrock.calls.length;
    const res = await client.embeddings.create({ model: COHERE, input: texts, encoding_format: "float" });
    expect(bedrock.rejected).toEqual([]);
    const calls = bedrock.calls.slice(before);
    expect(calls.map((c) => c.body.texts.length).sort((a, b) => b - a)).toEqual([96, 4]);
    for (const c of calls) expect(c.body).toEqual({ texts: c.body.texts, input_type: "search_document" });
    expect(res.data.length).toBe(100);
    expect(res.data[99]!.embedding).toEqual(bedrockVector("document number 99", 1024));
    expect(res.data[5]!.index).toBe(5);
    expect(res.usage).toEqual({ prompt_tokens: 300, total_tokens: 300 });
    expect(await lastAccess()).toMatchObject({ provider: "bedrock", promptTokens: 300, totalTokens: 300 });

    await client.embeddings.create({ model: "bedrock/cohere.embed-multilingual-v3", input: "query text", input_type: "search_query" } as never);
    expect(bedrock.calls[bedrock.calls.length - 1]!.body).toEqual({ texts: ["query text"], input_type: "search_query" });
  });

  test("what Bedrock models cannot do is a 400 before any call: token arrays, unsupported dimensions, bad input_type, chat models", async () => {
    const before = bedrock.calls.length;
    for (const [body, param] of [
      [{ model: TITAN, input: [1, 2, 3] }, "input"],
      [{ model: TITAN, input: "x", dimensions: 300 }, "dimensions"],
      [{ model: COHERE, input: "x", dimensions: 512 }, "dimensions"],
      [{ model: COHERE, input: "x", input_type: "poetry" }, "input_type"],
      [{ model: "anthropic.claude-3-haiku-20240307-v1:0", input: "x" }, "model"],
    ] as const) {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.json.error.param).toBe(param);
    }
    expect(bedrock.calls.length).toBe(before);
  });

  test("a failing call fails the request (no partial list) with Bedrock's error mapped", async () => {
    bedrock.script = (call, signal) => (call.body.inputText === "bad" ? new Response('{"message":"throttled"}', { status: 400, headers: { "x-amzn-errortype": "ValidationException" } }) : bedrockDefault(call, signal));
    const r = await post({ model: TITAN, input: ["ok", "bad", "ok too"] });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain("throttled");
    bedrock.script = bedrockDefault;
  });
});

describe("the mock provider: deterministic unit vectors with no keys", () => {
  test("same text, same vector; unit length; dimensions honoured; different texts differ", async () => {
    const a = await client.embeddings.create({ model: "mock/embed", input: ["alpha", "beta", "alpha"], encoding_format: "float" });
    const [x, y, z] = a.data.map((d) => d.embedding);
    expect(x!.length).toBe(1536);
    expect(x).toEqual(z!);
    expect(x).not.toEqual(y!);
    expect(Math.abs(norm(x!) - 1)).toBeLessThan(1e-5);
    const small = await client.embeddings.create({ model: "mock/other-model", input: "alpha", dimensions: 64 });
    expect(small.data[0]!.embedding.length).toBe(64);
    expect(Math.abs(norm(small.data[0]!.embedding) - 1)).toBeLessThan(1e-5);
    const again = await client.embeddings.create({ model: "mock/embed", input: "alpha" }); // base64 via the SDK
    expect(again.data[0]!.embedding).toEqual(x!);
    expect(a.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const raw = await post({ model: "mock/embed", input: [[1, 2], [3]], encoding_format: "float" });
    expect(validate("CreateEmbeddingResponse", raw.json)).toEqual([]);
    expect(raw.json.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  test("a key limited to mock models may embed with them and is refused others", async () => {
    expect((await post({ model: "mock/embed", input: "x" }, LIMITED)).status).toBe(200);
    const r = await post({ model: "openai/text-embedding-3-small", input: "x" }, LIMITED);
    expect(r.status).toBe(403);
    expect((await post({ model: "mock/embed", input: "x" }, "sk-wrong")).status).toBe(401);
  });
});

describe("failover only within an alias", () => {
  test("a direct model does not fall back to fallback_order's chat default (it does for chat)", async () => {
    const chat = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: "openai_down/gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(chat.headers.get("x-alloy-provider")).toBe("mock");
    const r = await post({ model: "openai_down/text-embedding-3-small", input: "x" });
    expect(r.status).toBe(502);
    expect(await lastAccess()).toMatchObject({ provider: "openai_down", failovers: 0, attempts: 1 });
  });

  test("an alias's later targets serve when the first fails", async () => {
    openai.script = openaiDefault;
    const res = await client.embeddings.create({ model: "rag-embed", input: "via the alias", encoding_format: "float" }).withResponse();
    expect(res.response.headers.get("x-alloy-provider")).toBe("openai");
    expect(res.data.data[0]!.embedding).toEqual(mockEmbedding("via the alias", 1536));
    expect((await lastAccess()).failovers).toBe(1);
  });
});

describe("bad input: 400 naming the problem", () => {
  const cases: Array<[string, unknown, string | null]> = [
    ["empty string", { model: "mock/e", input: "" }, "input"],
    ["empty list", { model: "mock/e", input: [] }, "input"],
    ["an empty string in a list", { model: "mock/e", input: ["a", ""] }, "input[1]"],
    ["over 2,048 inputs", { model: "mock/e", input: Array.from({ length: 2049 }, () => "a") }, "input"],
    ["mixed strings and tokens", { model: "mock/e", input: ["a", 1] }, "input[1]"],
    ["a non-numeric token", { model: "mock/e", input: [[1, "x"]] }, "input[0][1]"],
    ["a fractional token", { model: "mock/e", input: [1, 2.5] }, "input[1]"],
    ["a negative token", { model: "mock/e", input: [3, -1] }, "input[1]"],
    ["an empty token array", { model: "mock/e", input: [[1], []] }, "input[1]"],
    ["no input", { model: "mock/e" }, "input"],
    ["no model", { input: "a" }, "model"],
    ["encoding_format hex", { model: "mock/e", input: "a", encoding_format: "hex" }, "encoding_format"],
    ["dimensions 0", { model: "mock/e", input: "a", dimensions: 0 }, "dimensions"],
    ["not an object", [1, 2], null],
  ];
  for (const [name, body, param] of cases)
    test(name, async () => {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.json.error.type).toBe("invalid_request_error");
      expect(r.json.error.param).toBe(param);
      expect(r.json.error.message.length).toBeGreaterThan(10);
    });

  test("malformed JSON is a 400, an Anthropic model a 400 saying it does not serve embeddings", async () => {
    expect((await post("{not json")).status).toBe(400);
    const r = await post({ model: "anthropic/claude-sonnet-4-5", input: "a" });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe("The model 'anthropic/claude-sonnet-4-5' does not serve embeddings");
    expect(r.json.error.param).toBe("model");
  });
});

describe("bounds", () => {
  test("a passthrough answer larger than server.max_response_size is a 502, not read to the end", async () => {
    const small = await startGateway(`
[server]
max_response_size = 4096
[providers.openai]
base_url = "${openai.url}"
api_key = "sk-upstream-secret"
[governance]
max_retries = 0
`);
    try {
      openai.script = openaiDefault;
      const res = await fetch(`${small.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "openai/text-embedding-3-small", input: "big", encoding_format: "float" }) });
      expect(res.status).toBe(502);
      expect(((await res.json()) as any).error.code).toBe("upstream_response_too_large");
    } finally {
      await small.stop(false);
    }
  });
});
