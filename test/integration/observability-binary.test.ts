// The compiled ./alloy: human-readable logs by default, startup facts without keys, every buffered line written
// before the process exits on SIGTERM, --no-metrics.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BINARY, ROOT, spawnBinary, writeConfig } from "../helpers/gateway.ts";
import { startOpenAIMock, type OpenAIMock } from "../mocks/openai-upstream.ts";

const ENV_KEY = "sk-env-provider-key-0011223344";
let upstream: OpenAIMock;
let config: string;

beforeAll(() => {
  upstream = startOpenAIMock();
  config = writeConfig(`
[providers.openai]
base_url = "${upstream.url}"
models = ["gpt-4o-mini"]
[providers.mock]
type = "mock"
[models.smart]
targets = ["openai/gpt-4o-mini", "mock/echo"]
[mcp.servers.remote]
transport = "streamable-http"
url = "http://127.0.0.1:9/mcp"
headers = { Authorization = "Bearer mcp-header-token-5566" }
`);
});
afterAll(() => upstream.stop());

/** Read a child's stdout as it comes, so a test can wait for a line and still get everything once it exits. */
function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  const dec = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) {
      text += dec.decode(chunk, { stream: true });
      for (const w of waiters.splice(0)) {
        const m = text.match(w.re);
        if (m) w.resolve(m);
        else waiters.push(w);
      }
    }
    return text;
  })();
  return {
    done,
    waitFor(re: RegExp): Promise<RegExpMatchArray> {
      const m = text.match(re);
      return m ? Promise.resolve(m) : new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

describe("the binary's logs", () => {
  test("text logs by default: startup facts, no key; on SIGTERM every line (the last access line too) is written", async () => {
    const proc = Bun.spawn([BINARY, "--port", "0", "--config", config], {
      cwd: ROOT,
      env: { OPENAI_API_KEY: ENV_KEY, ALLOY_STORE_URL: "sqlite://:memory:" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const out = collect(proc.stdout);
    const port = Number((await out.waitFor(/ port=(\d+)/))[1]);
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "bin-text-1" },
      body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.headers.get("x-request-id")).toBe("bin-text-1");
    await res.text();
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const text = await out.done;
    const startup = text.split("\n").find((l) => l.includes(" listening on "))!;
    expect(startup).toMatch(/^\d{4}-\d\d-\d\dT\S+ INFO  alloy \d+\.\d+\.\d+ listening on http:\/\//);
    expect(startup).toContain(`port=${port}`);
    expect(startup).toContain('providers=["openai","mock"]');
    expect(startup).toContain('aliases=["smart"]');
    expect(startup).toContain('mcpServers=["remote"]');
    expect(text).toMatch(/INFO  request requestId=bin-text-1 method=POST route=\/v1\/chat\/completions status=200 /);
    expect(text).not.toContain(ENV_KEY);
    expect(text).not.toContain("mcp-header-token-5566");
  });

  test("a client cannot forge a text log line: control characters in its model name are escaped", async () => {
    const proc = Bun.spawn([BINARY, "--port", "0", "--config", config], { cwd: ROOT, env: { ALLOY_STORE_URL: "sqlite://:memory:" }, stdout: "pipe", stderr: "pipe" });
    const out = collect(proc.stdout);
    const port = Number((await out.waitFor(/ port=(\d+)/))[1]);
    const forged = "mock/x\n2026-01-01T00:00:00.000Z FATAL forged\r\u2028\u0085\u001b[2J";
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "bin-forge-1" },
      body: JSON.stringify({ model: forged, messages: [{ role: "user", content: "hi" }] }),
    });
    await res.text();
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const lines = (await out.done).split("\n").filter(Boolean);
    for (const l of lines) {
      expect(l).toMatch(/^\d{4}-\d\d-\d\dT\S+ (INFO |WARN |ERROR|DEBUG) /);
      expect(l).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    }
    expect(lines.some((l) => l.startsWith("2026-01-01T00:00:00.000Z"))).toBe(false);
    const access = lines.find((l) => l.includes("requestId=bin-forge-1"))!;
    expect(access).toContain("model=mock/x\\n2026-01-01T00:00:00.000Z FATAL forged\\r\\u2028\\u0085\\u001b[2J ");
  });

  test("--json-logs with --no-metrics: /metrics is a 404 with a request id", async () => {
    const gw = await spawnBinary(["--config", config, "--no-metrics"], { env: { OPENAI_API_KEY: ENV_KEY, ALLOY_LOG_LEVEL: "debug" } });
    const res = await fetch(`${gw.url}/metrics`, { headers: { "x-request-id": "bin-nometrics-1" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("bin-nometrics-1");
    expect(await gw.stop()).toBe(0);
    const startup = JSON.parse(gw.output().split("\n").find((l) => l.includes("listening on"))!);
    expect(startup.metrics).toBe(false);
  });
});
