// The compiled ./alloy exactly as users run it: the shipped config.toml, an empty environment, the README's lines.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import OpenAI from "openai";
import { BINARY, ROOT, spawnBinary, writeConfig, type BinaryGateway } from "../helpers/gateway.ts";

let gw: BinaryGateway;
let client: OpenAI;

beforeAll(async () => {
  gw = await spawnBinary([]); // shipped config.toml, empty environment
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "anything", maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
});

describe("the shipped config.toml with no keys and no environment", () => {
  test("starts, says which providers are active and which were skipped, and is ready", async () => {
    const lines = gw.output().trim().split("\n").map((l) => JSON.parse(l));
    const startup = lines.find((l) => l.msg.startsWith("alloy "));
    expect(startup.providers).toEqual(["mock", "flaky"]);
    expect(lines.some((l) => l.level === "warn" && l.msg.includes("provider openai skipped") && l.msg.includes("OPENAI_API_KEY"))).toBe(true);
    const ready = await fetch(`${gw.url}/ready`);
    expect(ready.status).toBe(200);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  test("plain completion through mock/echo", async () => {
    const res = await client.chat.completions.create({ model: "mock/echo", messages: [{ role: "user", content: "ping pong" }] });
    expect(res.choices[0]!.message.content).toBe("You said: ping pong");
    expect(res.usage).toEqual({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
  });

  test("streamed word by word with usage", async () => {
    const stream = await client.chat.completions.create({
      model: "mock/anything-goes",
      messages: [{ role: "user", content: "one two three" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let usage: any;
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) deltas.push(c.choices[0].delta.content);
      if (c.usage) usage = c.usage;
    }
    expect(deltas).toEqual(["You", " said:", " one", " two", " three"]);
    expect(usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
  });

  test("a tool call when tool_choice names a function", async () => {
    const res = await client.chat.completions.create({
      model: "mock/echo",
      messages: [{ role: "user", content: "weather?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } }],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const call = res.choices[0]!.message.tool_calls![0]! as any;
    expect(call.function).toEqual({ name: "get_weather", arguments: "{}" });
    expect(res.choices[0]!.finish_reason).toBe("tool_calls");
  });

  test("the demo alias: the fail_rate = 1 mock fails over to the healthy one", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "demo", messages: [{ role: "user", content: "still there?" }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe("You said: still there?");
    expect(response.headers.get("x-alloy-provider")).toBe("mock");
  });

  test("the README quick-start curl lines work verbatim (port aside)", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const block = readme.split("```sh")[2]!.split("```")[0]!;
    const lines = block.split("\n").filter((l) => l.startsWith("curl "));
    expect(lines.length).toBe(3);
    const run = (line: string) => Bun.spawnSync(["bash", "-c", line.replaceAll("localhost:3000", `127.0.0.1:${gw.port}`)]).stdout.toString();
    expect(JSON.parse(run(lines[0]!)).choices[0].message.content).toBe("You said: Hello, Alloy!");
    const sse = run(lines[1]!);
    expect(sse.trim().endsWith("data: [DONE]")).toBe(true);
    expect(sse).toContain('"usage":{"prompt_tokens":2');
    const demo = run(lines[2]!);
    expect(demo).toContain("x-alloy-provider: mock");
    expect(demo).toContain("You said: failover?");
  });
});

describe("the binary on its own", () => {
  test("--help lists every flag", () => {
    const out = Bun.spawnSync([BINARY, "--help"]).stdout.toString();
    for (const f of ["--port", "--config", "--log-level", "--json-logs", "--metrics"]) expect(out).toContain(f);
  });

  test("runs with nothing beside it: no node_modules, no config file (environment-only setup)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alloy-alone-"));
    copyFileSync(BINARY, join(dir, "alloy"));
    Bun.spawnSync(["chmod", "+x", join(dir, "alloy")]);
    const proc = Bun.spawn([join(dir, "alloy"), "--port", "0", "--json-logs"], { cwd: dir, env: {}, stdout: "pipe", stderr: "pipe" });
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes('"port"')) {
      const { done, value } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const port = Number(out.match(/"port":(\d+)/)![1]);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json() as any)).reasons).toContain("no provider is active");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });

  test("it runs with the fetch cap lifted and a small-host GC heap size, keeping values the user set", async () => {
    const environ = (pid: number) =>
      Object.fromEntries(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    const env = environ(gw.proc.pid); // the shared gateway: started with an empty environment
    expect(env.BUN_CONFIG_MAX_HTTP_REQUESTS).toBe("65535");
    expect(env.BUN_JSC_forceRAMSize).toBe(String(512 * 1024 * 1024));
    const own = await spawnBinary([], { env: { BUN_JSC_forceRAMSize: "1073741824", BUN_CONFIG_MAX_HTTP_REQUESTS: "1000" } });
    try {
      const e = environ(own.proc.pid);
      expect(e.BUN_JSC_forceRAMSize).toBe("1073741824");
      expect(e.BUN_CONFIG_MAX_HTTP_REQUESTS).toBe("1000");
    } finally {
      await own.stop();
    }
  });

  test("a missing named config file exits non-zero with one line naming it", () => {
    const r = Bun.spawnSync([BINARY, "--config", "/nonexistent/alloy.toml"], { env: {} });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString().trim()).toBe("alloy: /nonexistent/alloy.toml: config file not found");
  });

  test("an invalid config exits with the file, key path and expected type", () => {
    const file = writeConfig(`[providers.openai]\napi_key = "k"\ntimeout_secs = "soon"\n`);
    const r = Bun.spawnSync([BINARY, "-c", file], { env: {} });
    expect(r.exitCode).toBe(2);
    const err = r.stderr.toString().trim();
    expect(err.split("\n").length).toBe(1);
    expect(err).toContain(`${file}: providers.openai.timeout_secs: expected number`);
  });

  test("flag beats environment beats file for the port", async () => {
    const free = () => {
      const s = Bun.serve({ port: 0, fetch: () => new Response() });
      const p = s.port!;
      s.stop(true);
      return p;
    };
    const envPort = free();
    const file = writeConfig(`[server]\nport = 1\n[providers.mock]\n`);
    const g = await spawnBinary(["-c", file], { env: { ALLOY_PORT: "1" } }); // the helper passes --port 0
    expect(g.port).toBeGreaterThan(1);
    await g.stop();
    const proc = Bun.spawn([BINARY, "-c", file, "--json-logs"], { env: { ALLOY_PORT: String(envPort), ALLOY_STORE_URL: "sqlite://:memory:" }, stdout: "pipe" });
    const reader = proc.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain(`"port":${envPort}`);
    proc.kill("SIGTERM");
    await proc.exited;
  });

  test("SIGTERM lets an in-flight stream finish, then exits 0", async () => {
    const file = writeConfig(`[providers.slow]\ntype = "mock"\ntokens_per_sec = 20\n`);
    const g = await spawnBinary(["-c", file]);
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "slow/x", stream: true, messages: [{ role: "user", content: "wait for me please" }] }),
    });
    expect(res.status).toBe(200); // headers are out: the stream is in flight
    const code = g.stop();
    const text = await res.text();
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    expect(text).toContain('"content":" please"');
    expect(await code).toBe(0);
  });
});

describe("startup failures: one line, exit 2", () => {
  const MOCK = `[providers.mock]\n`;
  /** Run ./alloy to its exit; the bound is only there so that a process that starts after all fails the test. */
  const run = (args: string[]) => {
    const r = Bun.spawnSync([BINARY, ...args], { env: { ALLOY_STORE_URL: "sqlite://:memory:" }, stdout: "pipe", stderr: "pipe", timeout: 10_000 });
    return { code: r.exitCode, err: r.stderr.toString(), out: r.stdout.toString() };
  };
  const expectOneLine = (r: { code: number | null; err: string }, ...parts: string[]) => {
    expect(r.code).toBe(2);
    expect(r.err.endsWith("\n")).toBe(true);
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toStartWith("alloy: ");
    expect(r.err).not.toContain("    at ");
    for (const p of parts) expect(r.err).toContain(p);
  };

  test("a second Alloy on the port of a running one exits 2 naming the port; the first keeps every request", async () => {
    const file = writeConfig(`[server]\nhost = "127.0.0.1"\n${MOCK}`);
    const first = await spawnBinary(["-c", file]);
    try {
      const r = run(["-c", file, "--port", String(first.port), "--json-logs"]);
      expectOneLine(r, `port ${first.port} is already in use`);
      expect(r.out).not.toContain("listening");
      for (let i = 0; i < 8; i++) expect((await fetch(`${first.url}/health`)).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
  });

  test("a port held by another program exits 2 naming the port", () => {
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, reusePort: false, fetch: () => new Response("not alloy") });
    try {
      const file = writeConfig(`[server]\nhost = "127.0.0.1"\n${MOCK}`);
      expectOneLine(run(["-c", file, "--port", String(other.port)]), `port ${other.port} is already in use`);
    } finally {
      other.stop(true);
    }
  });

  test("a host that does not resolve, or is not this machine's, exits 2 naming server.host", () => {
    const unresolvable = writeConfig(`[server]\nhost = "no-such-host.invalid"\n${MOCK}`);
    expectOneLine(run(["-c", unresolvable, "--port", "0"]), '"no-such-host.invalid"', "server.host does not resolve");
    const foreign = writeConfig(`[server]\nhost = "192.0.2.1"\n${MOCK}`); // TEST-NET-1: never a local address
    expectOneLine(run(["-c", foreign, "--port", "0"]), '"192.0.2.1"', "server.host is not an address of this machine");
  });

  test("invalid UTF-8 in the config, or a host that is not ASCII, exits 2 naming the line or the key", () => {
    const raw = writeConfig("");
    writeFileSync(raw, Buffer.concat([Buffer.from(`${MOCK}[server]\nhost = "a`), Buffer.from([0xff, 0xfe]), Buffer.from(`b"\n`)]));
    expectOneLine(run(["-c", raw]), raw, "line 3 is not valid UTF-8");
    const unicode = writeConfig(`[server]\nhost = "b\u00fccher.example"\n${MOCK}`);
    expectOneLine(run(["-c", unicode]), `${unicode}: server.host: expected a host name or IP address in ASCII`);
  });

  // Root reads any file, so as root the binary runs as nobody (setpriv) to meet the permission check at all.
  const asRoot = process.getuid?.() === 0;
  const setpriv = Bun.which("setpriv");
  test.skipIf(asRoot && !setpriv)("a config file it may not read says permission denied (not invalid TOML)", () => {
    const file = writeConfig(MOCK);
    chmodSync(dirname(file), 0o755);
    chmodSync(file, 0o000);
    const drop = asRoot ? [setpriv!, "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const r = Bun.spawnSync([...drop, BINARY, "-c", file], { env: {}, stderr: "pipe", timeout: 10_000 });
    expectOneLine({ code: r.exitCode, err: r.stderr.toString() }, `alloy: ${file}: cannot be read: permission denied`);
  });

  test("a control character in a bad key is escaped: the error is still one line", () => {
    const file = writeConfig(`"bad\\nkey" = 1\n`);
    expectOneLine(run(["-c", file]), `${file}: bad\\nkey: unknown key`);
  });
});

describe("mock knobs", () => {
  test("latency_ms is a lower bound on the time to the first byte", async () => {
    const file = writeConfig(`[providers.mock]\nlatency_ms = 150\n`);
    const g = await spawnBinary(["-c", file]);
    try {
      const t0 = performance.now();
      const res = await fetch(`${g.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "x" }] }),
      });
      await res.text();
      expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    } finally {
      await g.stop();
    }
  });
});
