// Upstream hygiene: upstream errors reach the client without upstream headers (cookies, internal hosts, org ids), and
// nothing in a request can move a call off the configured base_url / endpoint: model names are data, not URLs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { startAnthropicMock, type AnthropicMock } from "../mocks/anthropic-upstream.ts";
import { startBedrockMock, type BedrockMock } from "../mocks/bedrock-upstream.ts";
import { completion, jsonResponse, openaiError, sseResponse, startOpenAIMock, textChunks, type OpenAIMock } from "../mocks/openai-upstream.ts";

const REGION = "us-east-1";
const ACCESS_KEY_ID = "AKIAALLOYSECURITY001";

let openai: OpenAIMock;
let anthropic: AnthropicMock;
let bedrock: BedrockMock;
let gw: TestGateway;

/** Headers an upstream may send that must never reach our clients. */
const LEAKY = {
  "set-cookie": "session=upstream-cookie; Path=/",
  "x-internal-host": "inference-7.internal.corp",
  "openai-organization": "org-secret-upstream",
  "openai-project": "proj_secret",
  server: "internal-nginx/1.2.3",
  via: "1.1 internal-proxy",
  "x-request-id": "upstream-request-id",
  "x-upstream-key-echo": "sk-upstream-provider-key",
};

beforeAll(async () => {
  openai = startOpenAIMock();
  anthropic = startAnthropicMock({ apiKey: "sk-ant-upstream" });
  bedrock = startBedrockMock({ accessKeyId: ACCESS_KEY_ID, region: REGION });
  gw = await startGateway(`
[server]
timeout_secs = 10
[providers.openai]
api_key = "sk-upstream-provider-key"
base_url = "${openai.url}"
[providers.anthropic]
api_key = "sk-ant-upstream"
base_url = "${anthropic.url}"
[providers.bedrock]
region = "${REGION}"
endpoint = "${bedrock.url}"
access_key_id = "${ACCESS_KEY_ID}"
secret_access_key = "alloySecuritySecret/DoNotLeak"
[governance]
max_retries = 0
failover_enabled = false
`);
});
afterAll(async () => {
  await gw.stop(false);
  openai.stop();
  anthropic.stop();
  bedrock.stop();
});

const post = (model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra }),
  });

interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: string | null };
}
const errorJson = async (res: Response) => (await res.json()) as ErrorJson;

function expectNoUpstreamHeaders(res: Response) {
  for (const name of Object.keys(LEAKY)) if (name !== "x-request-id") expect(res.headers.get(name)).toBeNull();
  expect(res.headers.get("x-request-id")).not.toBe("upstream-request-id");
  expect(JSON.stringify([...res.headers])).not.toContain("sk-upstream-provider-key");
}

describe("upstream headers stay upstream", () => {
  test("an upstream 4xx keeps its status and message, not its headers", async () => {
    openai.script = () => openaiError(400, "Invalid value for 'temperature'", "invalid_request_error", "invalid_value", LEAKY);
    const res = await post("openai/gpt-4o-mini", {}, { "x-request-id": "client-rid" });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-request-id")).toBe("client-rid");
    expectNoUpstreamHeaders(res);
    expect((await errorJson(res)).error.message).toBe("Invalid value for 'temperature'");
  });

  test("an upstream 5xx becomes our 502 without its headers", async () => {
    openai.script = () => jsonResponse({ error: { message: "backend inference-7.internal.corp failed", type: "server_error" } }, 500, LEAKY);
    const res = await post("openai/gpt-4o-mini");
    expect(res.status).toBe(502);
    expectNoUpstreamHeaders(res);
  });

  test("successful answers, JSON and SSE, carry none either", async () => {
    openai.script = (c) => jsonResponse(completion(c.body.model, "ok"), 200, LEAKY);
    const a = await post("openai/gpt-4o-mini");
    expect(a.status).toBe(200);
    expectNoUpstreamHeaders(a);
    openai.script = (c) => {
      const res = sseResponse(textChunks(c.body.model, ["o", "k"], false));
      for (const [k, v] of Object.entries(LEAKY)) res.headers.set(k, v);
      return res;
    };
    const b = await post("openai/gpt-4o-mini", { stream: true });
    expect(b.status).toBe(200);
    expectNoUpstreamHeaders(b);
    expect(await b.text()).toContain("[DONE]");
  });
});

describe("model names cannot move the upstream URL", () => {
  test("OpenAI: traversal, URLs and query strings in the model stay in the JSON body", async () => {
    openai.script = (c) => jsonResponse(completion(c.body.model, "ok"));
    const models = ["../../x", "http://evil.example/v1", "gpt-4o?x=1#frag", "%2e%2e/%2e%2e/admin", "x\r\nHost: evil"];
    for (const m of models) {
      const before = openai.calls.length;
      const res = await post(`openai/${m}`);
      expect(res.status).toBe(200);
      const call = openai.calls[before]!;
      expect(call.path).toBe("/v1/chat/completions");
      expect(call.body.model).toBe(m);
      expect(call.headers.host).toBe(new URL(openai.url).host);
    }
  });

  test("Anthropic: the model is a body field; the path is always /v1/messages", async () => {
    const before = anthropic.calls.length;
    await post("anthropic/../../v1/other");
    const call = anthropic.calls[before]!;
    expect(call.path).toBe("/v1/messages");
    expect(call.body.model).toBe("../../v1/other");
  });

  test("Bedrock: the model id is one encoded path segment on the configured endpoint", async () => {
    for (const m of ["../../x", "a/b/converse-stream", "http://evil.example/x"]) {
      const before = bedrock.calls.length;
      await post(`bedrock/${m}`);
      const call = bedrock.calls[before];
      expect(call?.modelId).toBe(m);
      expect(call?.operation).toBe("converse");
    }
  });

  test("a bare URL or path as the model routes nowhere: 404, no upstream call", async () => {
    const counts = () => openai.calls.length + anthropic.calls.length + bedrock.calls.length;
    const before = counts();
    for (const m of ["http://127.0.0.1:1/v1", "//evil.example/x", "/etc/passwd", "file:///etc/passwd"]) {
      const res = await post(m);
      expect(res.status).toBe(404);
      expect((await errorJson(res)).error.code).toBe("model_not_found");
    }
    expect(counts()).toBe(before);
  });

  test("no request field or header picks the upstream: base_url stays as configured", async () => {
    openai.script = (c) => jsonResponse(completion(c.body.model, "ok"));
    const before = openai.calls.length;
    const res = await post(
      "openai/gpt-4o-mini",
      { base_url: "http://evil.example", api_base: "http://evil.example", endpoint: "http://evil.example" },
      { host: "evil.example", "x-forwarded-host": "evil.example", "x-base-url": "http://evil.example" },
    );
    expect(res.status).toBe(200);
    expect(openai.calls[before]!.path).toBe("/v1/chat/completions");
    expect(openai.calls[before]!.headers.host).toBe(new URL(openai.url).host);
    expect(openai.calls[before]!.headers["x-forwarded-host"]).toBeUndefined();
  });
});
