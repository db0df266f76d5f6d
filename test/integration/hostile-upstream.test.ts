// What hostile or broken upstreams must not do to a client: see a provider key or an internal address, blow up the
// gateway's memory or CPU, pass a cut stream off as complete, or kill a healthy stream with a chunk it can skip.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = "sk-proj-HostileUpstreamKey0123456789abcdef";
const enc = new TextEncoder();

/** A tiny upstream whose behaviour each test chooses. */
function upstream(handler: (req: Request) => Response | Promise<Response>) {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler, idleTimeout: 0 });
  return { url: `http://127.0.0.1:${server.port}/v1`, stop: () => server.stop(true) };
}

const chunk = (delta: object, finish: string | null = null, extra: object = {}) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;

function sse(parts: string[], end = true): Response {
  return new Response(
    new ReadableStream({
      start(c) {
        for (const p of parts) c.enqueue(enc.encode(p));
        if (end) c.close();
      },
    }),
    { headers: { "content-type": "text/event-stream" } },
  );
}

/** A body that never ends: `size` bytes per pull, forever, until the reader cancels (which `cancelled` records). */
function endless(piece: Uint8Array, seen: { bytes: number; cancelled: boolean }, prefix?: Uint8Array, type = "application/json") {
  let first = true;
  return new Response(
    new ReadableStream({
      pull(c) {
        if (first && prefix) c.enqueue(prefix);
        first = false;
        seen.bytes += piece.byteLength;
        c.enqueue(piece);
      },
      cancel() {
        seen.cancelled = true;
      },
    }),
    { headers: { "content-type": type } },
  );
}

let stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const s of stops) await s();
  stops = [];
});

async function gateway(url: string, extra = "", level = "info"): Promise<TestGateway> {
  const gw = await startGateway(`
[server]
timeout_secs = 10
max_response_size = 1048576
${extra}
[governance]
max_retries = 0
backoff_base_ms = 1
[providers.openai]
api_key = "${KEY}"
base_url = "${url}"
`, {}, { logLevel: level });
  stops.push(() => gw.stop(false));
  return gw;
}

const ask = (gw: TestGateway, body: object = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], ...body }),
  });

describe("secrets and addresses never reach the client", () => {
  test("an upstream 401 quoting the provider key is scrubbed", async () => {
    const up = upstream(() =>
      Response.json({ error: { message: `Incorrect API key provided: ${KEY}. You can find your API key at your dashboard.`, type: "invalid_request_error", code: "invalid_api_key" } }, { status: 401 }),
    );
    stops.push(up.stop);
    const gw = await gateway(up.url);
    const res = await ask(gw);
    const text = await res.text();
    expect(res.status).toBe(401);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain("HostileUpstreamKey");
    expect(JSON.parse(text).error.message).toContain("Incorrect API key provided");
  });

  test("a 5xx text snippet quoting the key is scrubbed", async () => {
    const up = upstream(() => new Response(`proxy error: upstream rejected Bearer ${KEY}`, { status: 500 }));
    stops.push(up.stop);
    const gw = await gateway(up.url);
    const text = await (await ask(gw)).text();
    expect(text).not.toContain(KEY);
    expect(text).toContain("HTTP 500");
  });

  test("connection refused and malformed HTTP name no internal address", async () => {
    // A port nothing listens on, then a TCP server that answers garbage instead of HTTP.
    const refused = await gateway("http://127.0.0.1:1/v1");
    const r1 = await ask(refused);
    const t1 = await r1.text();
    expect(r1.status).toBe(502);
    expect(t1).not.toContain("127.0.0.1");
    expect(JSON.parse(t1).error.message).toContain("connection refused");

    const garbage = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(s) {
          s.write("NOT HTTP AT ALL\r\n\r\n");
          s.end();
        },
      },
    });
    stops.push(() => garbage.stop(true));
    const gw = await gateway(`http://127.0.0.1:${garbage.port}/v1`);
    const r2 = await ask(gw);
    const t2 = await r2.text();
    expect(r2.status).toBe(502);
    expect(t2).not.toContain("127.0.0.1");
    expect(t2).not.toContain(String(garbage.port));
    expect(t2).not.toContain("http://");
  });

  test("an unresolvable upstream host is not named", async () => {
    const gw = await gateway("http://alloy-no-such-host.invalid/v1");
    const r = await ask(gw);
    const t = await r.text();
    expect(r.status).toBe(502);
    expect(t).not.toContain("alloy-no-such-host");
  });
});

describe("upstream answers are bounded", () => {
  test("an answer past max_response_size is a 502 and reading stops there", async () => {
    const seen = { bytes: 0, cancelled: false };
    const up = upstream(() => endless(new Uint8Array(64 * 1024).fill(32), seen, enc.encode('{"choices":[')));
    stops.push(up.stop);
    const gw = await gateway(up.url);
    const res = await ask(gw);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(res.status).toBe(502);
    expect(body.error.type).toBe("upstream_error");
    expect(body.error.message).toContain("max_response_size");
    // The body is endless: an answer at all proves reading stopped. What the upstream managed to push is bounded by
    // the limit plus the socket buffers on the way (a few MiB on loopback).
    expect(seen.bytes).toBeLessThan(16 * 1024 * 1024);
  });

  test("a declared Content-Length past the limit is refused before reading", async () => {
    const up = upstream(() => new Response("x".repeat(2 * 1024 * 1024), { headers: { "content-type": "application/json" } }));
    stops.push(up.stop);
    const gw = await gateway(up.url);
    const res = await ask(gw);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("max_response_size");
  });

  test("an answer cut before its declared Content-Length is a 502 that says so, not a parse error", async () => {
    const { createServer } = await import("node:net");
    const raw = createServer((sock) => {
      sock.once("data", () => {
        sock.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"id":"chatcmpl-cut","choices":[');
      });
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    stops.push(() => raw.close());
    const gw = await gateway(`http://127.0.0.1:${(raw.address() as { port: number }).port}/v1`);
    const res = await ask(gw);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(res.status).toBe(502);
    expect(body.error.type).toBe("upstream_error");
    expect(body.error.message).toContain("the answer was cut off");
  });

  test("an endless error body is read only as far as the message needs", async () => {
    const seen = { bytes: 0, cancelled: false };
    const up = upstream(() => {
      const r = endless(new Uint8Array(16 * 1024).fill(97), seen);
      return new Response(r.body, { status: 500 });
    });
    stops.push(up.stop);
    const gw = await gateway(up.url);
    const res = await ask(gw);
    const text = await res.text();
    expect(res.status).toBe(502);
    expect(text.length).toBeLessThan(1024); // a 200-character snippet, not the body
    expect(seen.bytes).toBeLessThan(16 * 1024 * 1024); // endless: bounded by 64 KiB plus socket buffers
  });

  test("a stream event that never ends is cut at 1 MiB with the error event", async () => {
    const seen = { bytes: 0, cancelled: false };
    const first = enc.encode(chunk({ role: "assistant", content: "" }) + 'data: {"never":"');
    const up = upstream(() => endless(new Uint8Array(64 * 1024).fill(120), seen, first, "text/event-stream"));
    stops.push(up.stop);
    const gw = await gateway(up.url);
    const started = performance.now();
    const res = await ask(gw, { stream: true });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain('"role":"assistant"');
    expect(text).toContain("larger than 1048576 bytes");
    expect(text).not.toContain("[DONE]");
    expect(seen.bytes).toBeLessThan(16 * 1024 * 1024);
    // Scanned once, not rescanned per chunk: far from the seconds a quadratic scan would take.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

// At info level nothing reads a stream's chunks on the way (no completion-text tap), so OpenAI streams take the relay
// path (scanned, not parsed); at debug they are parsed. Both must keep every rule.
for (const [path, level] of [["relay", "info"], ["parsed", "debug"]] as const)
  describe(`streams (${path})`, () => {
  test("a stream cut short without finish_reason or [DONE] ends with the error event", async () => {
    const up = upstream(() => sse([chunk({ role: "assistant", content: "" }), chunk({ content: "The answer is" })]));
    stops.push(up.stop);
    const gw = await gateway(up.url, "", level);
    const res = await ask(gw, { stream: true });
    const text = await res.text();
    expect(text).toContain("The answer is");
    expect(text).not.toContain("[DONE]");
    const last = text.trim().split("\n\n").at(-1)!;
    expect(JSON.parse(last.slice(6)).error.message).toContain("cut short");
    await logsSettled();
    const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "request" && l.route === "/v1/chat/completions");
    expect(line.error).toBe("server");
  });

  test("chunks without choices (Azure's prompt_filter_results) are skipped, the stream goes on", async () => {
    const filter = `data: ${JSON.stringify({ id: "", object: "", created: 0, model: "", prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] })}\n\n`;
    const up = upstream(() => sse([filter, chunk({ role: "assistant", content: "" }), chunk({ content: "fine" }), chunk({}, "stop"), "data: [DONE]\n\n"]));
    stops.push(up.stop);
    const gw = await gateway(up.url, "", level);
    const res = await ask(gw, { stream: true });
    const text = await res.text();
    expect(text).toContain('"content":"fine"');
    expect(text).not.toContain("prompt_filter_results");
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
  });

  test("a non-object choice is an upstream error, not a crash", async () => {
    const up = upstream(() => sse([chunk({ role: "assistant", content: "" }), 'data: {"choices":[7]}\n\n']));
    stops.push(up.stop);
    const gw = await gateway(up.url, "", level);
    const text = await (await ask(gw, { stream: true })).text();
    expect(text).toContain("malformed choices");
    expect(text).not.toContain("[DONE]");
  });

  });

describe("streams", () => {
  test("streams still open when shutdown_grace_secs ends get the shutting_down error event", async () => {
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const up = upstream(() => {
      opened();
      return sse([chunk({ role: "assistant", content: "" }), chunk({ content: "thinking" })], false);
    });
    stops.push(up.stop);
    const gw = await startGateway(`
[server]
shutdown_grace_secs = 0.05
[providers.openai]
api_key = "${KEY}"
base_url = "${up.url}"
`);
    const res = await ask(gw, { stream: true });
    await open;
    const reader = res.body!.getReader();
    const firstPart = new TextDecoder().decode((await reader.read()).value);
    expect(firstPart).toContain("assistant");
    const stopped = gw.stop(true);
    let text = firstPart;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      text += new TextDecoder().decode(r.value);
    }
    await stopped;
    expect(text).toContain('"code":"shutting_down"');
    expect(text).not.toContain("[DONE]");
    await logsSettled();
    const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "request" && l.route === "/v1/chat/completions");
    expect(line.error).toBe("shutting_down");
    expect(line.status).not.toBe(499);
  });
});

afterAll(async () => {
  for (const s of stops) await s();
});
