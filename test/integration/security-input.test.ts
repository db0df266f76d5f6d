// Hostile input over real sockets: bodies past the limit (declared or chunked) are refused before they are read whole,
// a client trickling its body is cut off with a 408, oversized headers and URLs get 431, and deep, malformed or
// absurd JSON is a 4xx that never reaches a provider.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";

const LIMIT = 256 * 1024;
/** Short, so the 408 tests are quick; fractions of a second are allowed for exactly this. */
const READ_TIMEOUT_SECS = 0.2;
let gw: TestGateway;
/** The header trickle (see "slow clients"): it needs Bun's fixed ~10 s, so it runs alongside the whole file. */
let headerTrickle: Promise<{ sent: number; ms: number; received: string }>;

beforeAll(async () => {
  gw = await startGateway(`
[server]
max_body_size = ${LIMIT}
read_timeout_secs = ${READ_TIMEOUT_SECS}
[providers.mock]
type = "mock"
`);
  headerTrickle = trickleHeaders();
});
afterAll(() => gw.stop(false));

/**
 * One header byte every 200 ms, for up to 60 s: far more than any deadline. Bun cuts a request whose headers have not
 * all arrived ~10 s after the connection opened, whatever its idleTimeout (1, 2 and 4 s give the same 10–12 s), and
 * no setting shortens that, so this cannot be made quicker, only run while the other tests run.
 */
async function trickleHeaders() {
  const conn = connect(gw.port);
  const socket = await conn.opened;
  socket.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n");
  const started = performance.now();
  const sent = await trickle(conn, socket, (function* () {
    for (let i = 0; i < 300; i++) yield i % 20 === 0 ? `X-Pad-${i}: ` : i % 20 === 19 ? "\r\n" : "a";
  })(), 200);
  await conn.closedP;
  return { sent, ms: performance.now() - started, received: conn.received };
}

/** A raw TCP client: write what you like, see bytes as they arrive, know when the server closed. */
function connect(port: number) {
  let received = "";
  let closed = false;
  let onData: (() => void) | undefined;
  const closedP = Promise.withResolvers<void>();
  const opened = Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, d) {
        received += d.toString();
        onData?.();
      },
      close() {
        closed = true;
        onData?.();
        closedP.resolve();
      },
      error() {
        closed = true;
        closedP.resolve();
      },
    },
  });
  return {
    opened,
    get received() {
      return received;
    },
    get closed() {
      return closed;
    },
    closedP: closedP.promise,
    /** Resolves once the server has sent a complete status line (or closed). */
    statusLine(): Promise<string> {
      return new Promise((resolve) => {
        const check = () => {
          const i = received.indexOf("\r\n");
          if (i >= 0 || closed) {
            onData = undefined;
            resolve(i >= 0 ? received.slice(0, i) : "");
          }
        };
        onData = check;
        check();
      });
    },
  };
}

/**
 * Write `pieces` one at a time, pausing `paceMs` between them (pacing a slow client, not waiting for the server), and
 * stop as soon as the server has answered or closed. Returns how many pieces went out.
 */
async function trickle(conn: ReturnType<typeof connect>, socket: Bun.Socket, pieces: Iterable<string>, paceMs: number): Promise<number> {
  const answered = conn.statusLine();
  let sent = 0;
  for (const p of pieces) {
    if (conn.received || conn.closed) break;
    socket.write(p);
    sent++;
    await Promise.race([answered, Bun.sleep(paceMs)]);
  }
  return sent;
}

const body = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "hi" }], ...extra });
const post = (text: string | Uint8Array, headers: Record<string, string> = { "content-type": "application/json" }) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers, body: text });

async function expect4xx(res: Response, status: number, message: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers.get("x-request-id")).toBeTruthy();
  const json = (await res.json()) as { error: { message: string; type: unknown } };
  expect(json.error.message).toMatch(message);
  expect(typeof json.error.type).toBe("string");
}

describe("body size", () => {
  test("a declared Content-Length past the limit is a 413 before any body byte is sent", async () => {
    const conn = connect(gw.port);
    const socket = await conn.opened;
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${LIMIT * 2}\r\n\r\n`);
    expect(await conn.statusLine()).toMatch(/^HTTP\/1\.1 413 /);
    await conn.closedP; // the rest of the body is not waited for
    expect(conn.received).toContain("request_too_large");
    expect(conn.received.toLowerCase()).toContain("x-request-id");
  });

  test("an absurd Content-Length meets Bun's own backstop: still a 413 before any body byte", async () => {
    const conn = connect(gw.port);
    const socket = await conn.opened;
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${LIMIT * 1000}\r\n\r\n`);
    expect(await conn.statusLine()).toMatch(/^HTTP\/1\.1 413 /);
    await conn.closedP;
  });

  test("a chunked body past the limit gets its 413 while the client is still sending", async () => {
    const conn = connect(gw.port);
    const socket = await conn.opened;
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const CHUNK = 16 * 1024;
    const PLANNED = 1600; // 25 MB: a hundred times the limit
    const chunk = `${CHUNK.toString(16)}\r\n${"x".repeat(CHUNK)}\r\n`;
    // Past the limit at once (a paced start could meet the short read deadline first on a loaded machine and get
    // 408), then paced, so the answer can come while the client is still sending.
    const over = Math.ceil(LIMIT / CHUNK) + 1;
    for (let i = 0; i < over; i++) socket.write(chunk);
    const sent = over + (await trickle(conn, socket, Array.from({ length: PLANNED - over }, () => chunk), 5));
    expect(await conn.statusLine()).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeGreaterThan(LIMIT / CHUNK); // we did cross the limit …
    expect(sent).toBeLessThan(PLANNED); // … and the answer came long before the body ended
    expect(conn.received).toContain(`larger than the ${LIMIT}-byte limit`);
    await conn.closedP;
  });

  test("a body within the limit still works", async () => {
    const res = await post(body({ metadata: { pad: "y".repeat(LIMIT - 500) } }));
    expect(res.status).toBe(200);
  });
});

describe("slow clients", () => {
  test("a client trickling its body is answered 408 and cut off at read_timeout_secs", async () => {
    const conn = connect(gw.port);
    const socket = await conn.opened;
    const payload = body({ metadata: { pad: "z".repeat(500) } });
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`);
    // One byte every 50 ms would take half a minute for the whole body; the deadline is 0.2 s.
    const sent = await trickle(conn, socket, payload, 50);
    expect(sent).toBeLessThan(payload.length);
    expect(await conn.statusLine()).toBe("HTTP/1.1 408 Request Timeout");
    expect(conn.received).toContain("request_timeout");
    expect(conn.received).toContain("server.read_timeout_secs");
    await conn.closedP; // the server hangs up on it
  });

  test("a client that stalls mid-body is answered 408 too", async () => {
    const conn = connect(gw.port);
    const socket = await conn.opened;
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`);
    expect(await conn.statusLine()).toBe("HTTP/1.1 408 Request Timeout");
    await conn.closedP;
  });

  test("the MCP tool-call route has the same read deadline and size limit", async () => {
    const slow = connect(gw.port);
    const s1 = await slow.opened;
    s1.write(`POST /v1/mcp/tools/call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":`);
    expect(await slow.statusLine()).toBe("HTTP/1.1 408 Request Timeout");
    await slow.closedP;
    const big = connect(gw.port);
    const s2 = await big.opened;
    s2.write(`POST /v1/mcp/tools/call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${LIMIT * 2}\r\n\r\n`);
    expect(await big.statusLine()).toMatch(/^HTTP\/1\.1 413 /);
    await big.closedP;
  });

  test("the server is fine afterwards", async () => {
    expect((await post(body())).status).toBe(200);
  });
});

describe("headers and URLs", () => {
  async function rawStatus(request: string): Promise<string> {
    const conn = connect(gw.port);
    const socket = await conn.opened;
    socket.write(request);
    const line = await conn.statusLine();
    socket.end();
    return line;
  }

  test("a huge header, too many headers and a huge URL are refused with 431", async () => {
    expect(await rawStatus(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(64 * 1024)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    const many = Array.from({ length: 1000 }, (_, i) => `X-H${i}: v\r\n`).join("");
    expect(await rawStatus(`GET /health HTTP/1.1\r\nHost: x\r\n${many}\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    expect(await rawStatus(`GET /v1/${"a".repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
  });
});

describe("malformed and absurd bodies", () => {
  test("nesting deeper than 64 levels is a 400 before parsing; 60 levels are fine", async () => {
    const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    await expect4xx(await post(`{"model":"mock/echo","messages":[],"x":${deep(100_000)}}`), 400, /nested deeper than 64 levels/);
    await expect4xx(await post(`{"a":${"{\"a\":".repeat(70)}1${"}".repeat(70)}}`), 400, /nested deeper than 64 levels/);
    // Brackets inside strings are text, not nesting.
    expect((await post(body({ metadata: { s: "[".repeat(10_000) } }))).status).toBe(200);
    expect((await post(body({ metadata: null, deep: JSON.parse(deep(60)) }))).status).toBe(200);
  });

  test("invalid UTF-8, wrong content types, empty and non-object bodies", async () => {
    const bad = new Uint8Array([...new TextEncoder().encode('{"model":"mock/echo","messages":[{"role":"user","content":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}]}')]);
    await expect4xx(await post(bad), 400, /not valid UTF-8/);
    await expect4xx(await post(body(), { "content-type": "text/plain" }), 415, /Content-Type must be application\/json/);
    await expect4xx(await post(body(), { "content-type": "multipart/form-data; boundary=x" }), 415, /Content-Type/);
    expect((await post(body(), { "content-type": "application/json; charset=utf-8" })).status).toBe(200);
    await expect4xx(await post(""), 400, /empty/);
    await expect4xx(await post("[1,2]"), 400, /JSON object/);
    await expect4xx(await post('"x"'), 400, /JSON object/);
    await expect4xx(await post("null"), 400, /JSON object/);
    await expect4xx(await post('{"model":'), 400, /could not parse/);
  });

  test("absurd n, max_tokens, message and tool counts are 400s naming the field", async () => {
    await expect4xx(await post(body({ n: 1_000_000 })), 400, /'n'/);
    await expect4xx(await post(body({ max_tokens: 1e15 })), 400, /'max_tokens'/);
    await expect4xx(await post(body({ max_tokens: -1 })), 400, /'max_tokens'/);
    const messages = Array.from({ length: 5000 }, () => ({ role: "user", content: "x" }));
    await expect4xx(await post(JSON.stringify({ model: "mock/echo", messages })), 400, /'messages'/);
    const tools = Array.from({ length: 600 }, (_, i) => ({ type: "function", function: { name: `t${i}` } }));
    await expect4xx(await post(body({ tools })), 400, /'tools'/);
  });

  test("every refusal above left the server healthy", async () => {
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    expect((await post(body())).status).toBe(200);
  });
});

describe("a client trickling its headers (since the file began)", () => {
  test("is cut off by Bun's own header deadline (about 10 s), while every test above was served", async () => {
    const { sent, ms, received } = await headerTrickle;
    expect(received).not.toContain("200 OK");
    expect(sent).toBeLessThan(300); // cut off long before the trickle ended …
    expect(ms).toBeLessThan(30_000); // … within Bun's header deadline
  }, 40_000);
});
