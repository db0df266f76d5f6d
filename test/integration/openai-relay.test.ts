// Same-dialect streams are relayed event by event: the client gets the upstream's bytes unchanged, the usage chunk
// only when it asked, and the access line still learns usage and the finish reason.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";
import { startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

let up: OpenAIMock;
let gw: TestGateway;
const chunks = [
  { id: "c1", object: "chat.completion.chunk", created: 7, model: "gpt-4o", system_fingerprint: "fp_x", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
  { id: "c1", object: "chat.completion.chunk", created: 7, model: "gpt-4o", system_fingerprint: "fp_x", choices: [{ index: 0, delta: { content: 'say "hi"' }, finish_reason: null }] },
  { id: "c1", object: "chat.completion.chunk", created: 7, model: "gpt-4o", system_fingerprint: "fp_x", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
  { id: "c1", object: "chat.completion.chunk", created: 7, model: "gpt-4o", choices: [], usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 } },
];

beforeAll(async () => {
  up = startOpenAIMock(() => new Response(chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n", { headers: { "content-type": "text/event-stream" } }));
  gw = await startGateway(`[providers.openai]\napi_key = "sk-relay"\nbase_url = "${up.url}"\n`, {}, { logLevel: "info" });
});
afterAll(async () => {
  await gw.stop(false);
  up.stop();
});

const ask = (includeUsage: boolean, id: string) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": id },
    body: JSON.stringify({ model: "gpt-4o", stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}), messages: [{ role: "user", content: "hi" }] }),
  });

test("with include_usage every upstream event arrives byte for byte, then [DONE]", async () => {
  const text = await (await ask(true, "relay-1")).text();
  expect(text).toBe(chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n");
  await logsSettled();
  const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === "relay-1" && l.msg === "request");
  expect(line).toMatchObject({ promptTokens: 11, completionTokens: 3, finishReason: "stop", status: 200 });
});

test("without it the usage chunk stays out", async () => {
  const text = await (await ask(false, "relay-2")).text();
  expect(text).toBe(chunks.slice(0, 3).map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n");
});

test("a large JSON answer goes out byte for byte, with usage and finish found by the scan", async () => {
  const big = JSON.stringify({
    id: "chatcmpl-big",
    object: "chat.completion",
    created: 7,
    model: "gpt-4o",
    choices: [{ index: 0, message: { role: "assistant", content: "word ".repeat(20_000), refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage: { prompt_tokens: 21, completion_tokens: 20_000, total_tokens: 20_021, completion_tokens_details: { reasoning_tokens: 0 } },
  });
  const bigUp = startOpenAIMock(() => new Response(big, { headers: { "content-type": "application/json" } }));
  const g = await startGateway(`[providers.openai]\napi_key = "sk-relay"\nbase_url = "${bigUp.url}"\n`, {}, { logLevel: "info" });
  try {
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "relay-big" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "write a lot" }] }),
    });
    expect(await res.text()).toBe(big);
    await logsSettled();
    const line = g.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === "relay-big" && l.msg === "request");
    expect(line).toMatchObject({ promptTokens: 21, completionTokens: 20_000, finishReason: "stop" });
  } finally {
    await g.stop(false);
    bigUp.stop();
  }
});

test("a client that stops reading holds the upstream back (back-pressure), and leaving ends the upstream call", async () => {
  const { connect, createServer } = await import("node:net");
  // A raw HTTP/1.1 upstream that writes 100 MB of chunks only as fast as its socket takes them (write() → false: wait
  // for drain), so what it has written is what Alloy read plus the kernel's buffers.
  const event = `data: ${JSON.stringify({ ...chunks[1], choices: [{ index: 0, delta: { content: "x".repeat(1000) }, finish_reason: null }] })}\n\n`;
  const total = 100_000;
  let produced = 0;
  let closed = false;
  const upstream = createServer((s) => {
    let head = "";
    s.on("data", (d) => {
      head += d.toString();
      if (!head.includes("\r\n\r\n") || produced > 0) return;
      s.write("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n");
      const pump = () => {
        while (produced < total) {
          produced++;
          if (!s.write(event)) return void s.once("drain", pump);
        }
        s.end();
      };
      pump();
    });
    s.on("close", () => (closed = true));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upPort = (upstream.address() as { port: number }).port;
  const g = await startGateway(`[providers.openai]\napi_key = "sk-relay"\nbase_url = "http://127.0.0.1:${upPort}/v1"\n`);
  const body = JSON.stringify({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] });
  const sock = connect(g.port, "127.0.0.1");
  try {
    let received = 0;
    const firstBytes = new Promise<void>((resolve) =>
      sock.on("data", (d: Buffer) => {
        received += d.length;
        sock.pause(); // read one piece, then stop reading for good
        resolve();
      }),
    );
    sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await firstBytes;
    // Wait until the upstream stops being able to write (no new event for 300 ms), then check how far it got.
    let last = -1;
    while (produced !== last) {
      last = produced;
      await Bun.sleep(300);
    }
    // Loopback socket buffers on the two hops hold ~20 MB between them; without back-pressure all 100 MB would go.
    expect(produced).toBeLessThan(total / 2);
    expect(received).toBeLessThan(1_000_000);
    // The client leaves: the upstream connection is closed too (the slot and the socket are freed).
    sock.destroy();
    const until = performance.now() + 5000;
    while (!closed && performance.now() < until) await Bun.sleep(20);
    expect(closed).toBe(true);
  } finally {
    sock.destroy();
    await g.stop(false);
    upstream.close();
  }
});
