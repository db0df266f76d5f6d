// Invalid requests get a 4xx in OpenAI's error shape and never reach an upstream; the server stays up.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";
import { startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

let upstream: OpenAIMock;
let gw: TestGateway;

beforeAll(async () => {
  upstream = startOpenAIMock();
  gw = await startGateway(`
[server]
max_body_size = 65536
[providers.openai]
api_key = "k"
base_url = "${upstream.url}"
`);
});
afterAll(async () => {
  await gw.stop(false);
  upstream.stop();
});

const post = (body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers, body });

const valid = { model: "openai/gpt-4o", messages: [{ role: "user", content: "hi" }] };

const cases: Array<[string, unknown, number, string | null]> = [
  ["model missing", { messages: valid.messages }, 400, "model"],
  ["model of the wrong type", { ...valid, model: 42 }, 400, "model"],
  ["messages empty", { ...valid, messages: [] }, 400, "messages"],
  ["messages not an array", { ...valid, messages: "hi" }, 400, "messages"],
  ["unknown role", { ...valid, messages: [{ role: "wizard", content: "x" }] }, 400, "messages[0].role"],
  ["a role named like an Object builtin", { ...valid, messages: [{ role: "constructor", content: "x" }] }, 400, "messages[0].role"],
  ["a role named __proto__", { ...valid, messages: [{ role: "__proto__", content: "x" }] }, 400, "messages[0].role"],
  ["a provider prefix named like an Object builtin", { ...valid, model: "constructor/gpt-4o" }, 404, "model"],
  ["a provider prefix named __proto__", { ...valid, model: "__proto__/gpt-4o" }, 404, "model"],
  ["user content of the wrong type", { ...valid, messages: [{ role: "user", content: 5 }] }, 400, "messages[0].content"],
  ["tool message without tool_call_id", { ...valid, messages: [{ role: "tool", content: "x" }] }, 400, "messages[0].tool_call_id"],
  ["unknown content part", { ...valid, messages: [{ role: "user", content: [{ type: "video", url: "x" }] }] }, 400, "messages[0].content"],
  ["temperature out of range", { ...valid, temperature: 7 }, 400, "temperature"],
  ["absurd n", { ...valid, n: 100000 }, 400, "n"],
  ["negative max_tokens", { ...valid, max_tokens: -5 }, 400, "max_tokens"],
  ["tools of the wrong shape", { ...valid, tools: [{ type: "function" }] }, 400, "tools[0]"],
  ["function name not allowed by OpenAI", { ...valid, tools: [{ type: "function", function: { name: "has space" } }] }, 400, "tools[0]"],
  ["bad tool_choice", { ...valid, tool_choice: "sometimes" }, 400, "tool_choice"],
  ["bad response_format", { ...valid, response_format: { type: "yaml" } }, 400, "response_format"],
  ["stream not a boolean", { ...valid, stream: "yes" }, 400, "stream"],
  ["body is an array", [valid], 400, null],
  ["body is a string", "hello", 400, null],
];

describe("request validation", () => {
  for (const [name, body, status, param] of cases)
    test(`${name} → ${status}`, async () => {
      const res = await post(JSON.stringify(body));
      expect(res.status).toBe(status);
      expect(res.headers.get("x-request-id")).toBeTruthy();
      const j = (await res.json() as any);
      expect(j.error.type).toBe("invalid_request_error");
      expect(typeof j.error.message).toBe("string");
      if (param) expect(j.error.param).toStartWith(param);
    });

  test("malformed JSON is a 400", async () => {
    const res = await post('{"model": "openai/gpt-4o", "messages": [');
    expect(res.status).toBe(400);
    expect(((await res.json() as any)).error.message).toContain("parse the JSON body");
  });

  test("a non-JSON content type is a 415", async () => {
    const res = await post("model=x", { "content-type": "application/x-www-form-urlencoded" });
    expect(res.status).toBe(415);
  });

  test("a body over max_body_size is a 413", async () => {
    const res = await post(JSON.stringify({ ...valid, messages: [{ role: "user", content: "x".repeat(70_000) }] }));
    expect(res.status).toBe(413);
    expect(((await res.json() as any)).error.code).toBe("request_too_large");
  });

  test("huge strings under the limit are fine, and reach the upstream intact", async () => {
    const big = "y".repeat(60_000);
    const before = upstream.calls.length;
    const res = await post(JSON.stringify({ ...valid, messages: [{ role: "user", content: big }] }));
    expect(res.status).toBe(200);
    expect(upstream.calls[before]!.body.messages[0].content).toBe(big);
  });

  test("an unknown model is a 404 model_not_found; an unknown route is a 404 too", async () => {
    const res = await post(JSON.stringify({ ...valid, model: "nobody/none" }));
    expect(res.status).toBe(404);
    expect(((await res.json() as any)).error.code).toBe("model_not_found");
    const r2 = await fetch(`${gw.url}/v1/nothing-here`);
    expect(r2.status).toBe(404);
    expect(((await r2.json() as any)).error).toBeDefined();
  });

  test("none of the invalid requests reached the upstream, and the server is still up", async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "x", maxRetries: 0 });
    const before = upstream.calls.length;
    const res = await client.chat.completions.create(valid as any);
    expect(res.choices[0]!.message.content).toBe("Hello from mock");
    // exactly two calls ever: the huge-string one and this one
    expect(before).toBe(1);
  });
});
