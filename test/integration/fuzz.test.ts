// Fuzzing the chat endpoint: a few thousand generated bad bodies (seeded, so a failure can be replayed with
// FUZZ_SEED=<seed>) against the gateway on loopback with the built-in mock provider. Every answer must be a 4xx in
// OpenAI's error shape, never a 5xx, and the gateway must serve normally afterwards.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_a110);
const CASES = 3000;
const WORKERS = 8;
/** Stop generating after this long on a slow machine; the cases already sent still count. */
const TIME_BUDGET_MS = 15_000;
const LIMIT = 64 * 1024;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(`
[server]
max_body_size = ${LIMIT}
read_timeout_secs = 5
[providers.mock]
type = "mock"
`);
});
afterAll(() => gw.stop(false));

/** mulberry32: small, fast, good enough to spread cases; the same seed gives the same cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

interface Case {
  kind: string;
  body: string | Uint8Array;
  contentType?: string;
}

const enc = new TextEncoder();
const valid = () => ({ model: "mock/echo", messages: [{ role: "user", content: "hello" }] as unknown[] });
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/** For each field, values that are always wrong for it: one of them makes any body invalid. */
const BAD: Record<string, unknown[]> = {
  model: [null, 1, "", [], {}, true, "x".repeat(600)],
  messages: [
    null,
    [],
    "hi",
    [null],
    [{}],
    [{ role: "bogus", content: "x" }],
    [{ role: "constructor", content: "x" }],
    [{ role: "__proto__", content: "x" }],
    [{ role: "toString", content: "x" }],
    [{ role: "user" }],
    [{ role: "user", content: 5 }],
    [{ role: "user", content: [{ type: "nope" }] }],
    [{ role: "tool", content: "x" }],
    [{ role: "assistant", tool_calls: [{ id: 1 }] }],
    many(5000, () => ({ role: "user", content: "" })),
  ],
  temperature: [-1, 3, "hot", []],
  top_p: [2, -0.1, "1"],
  n: [0, 129, 1.5, "2", 1e9],
  max_tokens: [0, -5, 1e12, 1.5, "100"],
  max_completion_tokens: [0, 1e12],
  stop: [["a", "b", "c", "d", "e"], 5, [1]],
  tools: [
    [{ type: "function" }],
    [{ type: "function", function: { name: "bad name!" } }],
    [{ type: "function", function: { name: "x".repeat(65) } }],
    many(600, (i) => ({ type: "function", function: { name: `t${i}` } })),
    "x",
    [{ type: "mcp" }],
  ],
  tool_choice: ["sometimes", 5, { type: "function" }],
  stream: ["yes", 1],
  response_format: [{ type: "xml" }, "json"],
  presence_penalty: [5, -3],
  frequency_penalty: [2.5],
  logit_bias: ["x", { a: "b" }],
  top_logprobs: [21, -1],
  metadata: [{ a: 1 }, "x"],
  stream_options: ["all", 3],
};
const FIELDS = Object.keys(BAD);

function randomString(r: Rng, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.int(0x20, 0x7e));
  return s;
}

/** A value of any JSON type, nested up to `depth`. */
function randomJson(r: Rng, depth: number): unknown {
  const k = r.int(0, depth > 0 ? 6 : 4);
  if (k === 0) return null;
  if (k === 1) return r.next() < 0.5;
  if (k === 2) return r.next() * 1e6 - 5e5;
  if (k === 3) return r.int(-10, 1e6);
  if (k === 4) return randomString(r, r.int(0, 20));
  if (k === 5) return many(r.int(0, 4), () => randomJson(r, depth - 1));
  return Object.fromEntries(many(r.int(0, 4), () => [randomString(r, r.int(1, 8)), randomJson(r, depth - 1)]));
}

const GENERATORS: Array<(r: Rng) => Case> = [
  // Random printable garbage and random bytes.
  (r) => ({ kind: "garbage", body: randomString(r, r.int(1, 300)) }),
  (r) => ({ kind: "bytes", body: Uint8Array.from(many(r.int(1, 300), () => r.int(0, 255))) }),
  // A valid body cut short: a proper prefix of a JSON object is never a JSON object.
  (r) => {
    const s = JSON.stringify({ ...valid(), temperature: 0.5, tools: [{ type: "function", function: { name: "f" } }] });
    return { kind: "truncated", body: s.slice(0, r.int(1, s.length - 1)) };
  },
  // Bytes that can never appear in UTF-8, dropped somewhere into a valid body.
  (r) => {
    const b = enc.encode(JSON.stringify(valid()));
    const at = r.int(0, b.length);
    const bad = r.pick([0xc0, 0xc1, 0xf5, 0xf8, 0xfe, 0xff]);
    return { kind: "invalid-utf8", body: Uint8Array.from([...b.slice(0, at), bad, ...b.slice(at)]) };
  },
  // One to three fields set to values that are wrong for them, plus random extra fields (which pass through).
  (r) => {
    const body: Record<string, unknown> = valid();
    const fields: string[] = [];
    for (let i = r.int(1, 3); i > 0; i--) {
      const f = r.pick(FIELDS);
      body[f] = r.pick(BAD[f]!);
      fields.push(f);
    }
    for (let i = r.int(0, 3); i > 0; i--) body[`x_${randomString(r, 5)}`] = randomJson(r, 3);
    return { kind: `bad-fields:${fields.join(",")}`, body: JSON.stringify(body) };
  },
  // Valid shape, but a model nothing serves: URLs, traversal, unknown providers, families with no provider.
  (r) => {
    const model = r.pick(["http://evil.example/v1", "../../etc/passwd", "openai/../../x", "gpt-4o", "claude-3-5-sonnet", "anthropic.claude-v2", "nope/x", "mock", "/mock/x", "mock\u0000/x"]);
    return { kind: "unknown-model", body: JSON.stringify({ ...valid(), model }) };
  },
  // Nesting past the limit, in arrays or objects, somewhere in the body.
  (r) => {
    const d = r.int(65, 20_000);
    const nest = r.next() < 0.5 ? `${"[".repeat(d)}${"]".repeat(d)}` : `${'{"a":'.repeat(d)}1${"}".repeat(d)}`;
    return { kind: `deep:${d}`, body: `{"model":"mock/echo","messages":[{"role":"user","content":"x"}],"metadata":${nest}}` };
  },
  // JSON that is not an object.
  (r) => ({ kind: "not-object", body: r.pick(["null", "true", "1", '"x"', "[]", "[{}]", "1e999", "-0"]) }),
  // Wrong content types for a body that is otherwise fine.
  (r) => ({
    kind: "content-type",
    body: JSON.stringify(valid()),
    contentType: r.pick(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "image/png", "json"]),
  }),
  // Just past max_body_size (but under Bun's own backstop, so the answer is ours).
  (r) => ({ kind: "too-large", body: JSON.stringify({ ...valid(), metadata: { pad: "p".repeat(LIMIT + r.int(0, LIMIT)) } }) }),
  // Empty or whitespace only.
  (r) => ({ kind: "empty", body: r.pick(["", " ", "\n\n", "\t"]) }),
];

interface Outcome {
  kind: string;
  status: number;
  problem?: string;
}

async function send(c: Case): Promise<Outcome> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": c.contentType ?? "application/json" },
    body: c.body,
  });
  const text = await res.text();
  let problem: string | undefined;
  if (res.status < 400 || res.status > 499) problem = `status ${res.status}: ${text.slice(0, 200)}`;
  else if (!res.headers.get("x-request-id")) problem = "no x-request-id";
  else {
    try {
      const e = JSON.parse(text).error;
      if (typeof e?.message !== "string" || typeof e?.type !== "string") problem = `not an OpenAI error: ${text.slice(0, 200)}`;
    } catch {
      problem = `error body is not JSON: ${text.slice(0, 200)}`;
    }
  }
  return { kind: c.kind, status: res.status, problem };
}

test(`${CASES} generated bad bodies (seed ${SEED}) all get a 4xx in OpenAI's shape; the gateway lives on`, async () => {
  const r = prng(SEED);
  const cases = many(CASES, () => r.pick(GENERATORS)(r));
  const outcomes: Outcome[] = [];
  const started = performance.now();
  let nextCase = 0;
  const worker = async () => {
    while (nextCase < cases.length && performance.now() - started < TIME_BUDGET_MS) outcomes.push(await send(cases[nextCase++]!));
  };
  await Promise.all(many(WORKERS, worker));

  const problems = outcomes.filter((o) => o.problem).map((o) => `${o.kind} → ${o.problem}`);
  expect(problems).toEqual([]);
  expect(outcomes.length).toBeGreaterThan(Math.min(CASES, 500));
  // Every generator was exercised and each produced only client errors.
  const statuses = new Set(outcomes.map((o) => o.status));
  for (const s of statuses) expect(s).toBeGreaterThanOrEqual(400);
  for (const s of [400, 404, 413, 415]) expect(statuses.has(s)).toBe(true);

  expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  const ok = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(valid()) });
  expect(ok.status).toBe(200);
}, 60_000);

test("raw protocol garbage over TCP never gets a gateway 5xx and does not take the server down", async () => {
  const r = prng(SEED ^ 0xabcdef);
  // Every payload ends its header block, so the server always has enough to answer (or hang up) at once.
  const payloads = [
    () => `${randomString(r, r.int(1, 200))}\r\n\r\n`,
    () => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ${r.pick(["-1", "abc", "99999999999999999999", "1, 2", "0x10"])}\r\n\r\n{}`,
    () =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n${r.pick(["", "Content-Length: 5\r\n"])}\r\n${r.pick(["zz\r\n\r\n", "-1\r\n\r\n", "ffffffffffffffff\r\nx\r\n", "0\r\n\r\n"])}`,
    () => `${r.pick(["GET", "BREW", "\u0000", "POST", "CONNECT"])} ${r.pick(["/health", "*", "http://x/v1/models", "", "/v1/../../etc/passwd", `/${randomString(r, 30)}`])} HTTP/1.1\r\nHost: x\r\n\r\n`,
    // Host headers Bun cannot build a URL from (request.url is then a bare path), on known and unknown routes.
    () => `GET ${r.pick(["/v1/nope", "/health", "/v1/models", "/metrics", "/x?/y"])} HTTP/1.1\r\nHost: ${r.pick(["e/x?", "a b", "e/health?", "[::1", "x:99999", "", "\u00ff"])}\r\n\r\n`,
    // Bun itself answers an unknown HTTP version with 505, which is the protocol's word for it.
    () => `GET /health HTTP/${r.pick(["9.9", "1.7", "2.0"])}\r\n\r\n`,
  ];
  let answered = 0;
  for (let i = 0; i < 80; i++) {
    const payload = r.pick(payloads)();
    const status = await new Promise<string>((resolve) => {
      let got = "";
      Bun.connect({
        hostname: "127.0.0.1",
        port: gw.port,
        socket: {
          open(s) {
            s.write(payload);
          },
          data(s, d) {
            got += d.toString();
            if (got.includes("\r\n")) {
              s.end();
              resolve(got.split("\r\n")[0]!);
            }
          },
          close() {
            resolve(got.split("\r\n")[0] ?? "");
          },
          error() {
            resolve("");
          },
        },
      });
    });
    if (status) answered++;
    expect(status).not.toMatch(/^HTTP\/1\.[01] 5(?!05)/);
  }
  expect(answered).toBeGreaterThan(40);
  expect((await fetch(`${gw.url}/health`)).status).toBe(200);
});
