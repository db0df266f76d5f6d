// Log lines: JSON and text formats, levels, request-scoped fields, and secrets never written at any level.
import { describe, expect, test } from "bun:test";
import type { Config } from "../../src/config/schema.ts";
import { createLogger } from "../../src/observability/log.ts";
import { collectSecrets, Redactor } from "../../src/observability/redact.ts";

function capture(level: string, json: boolean) {
  const lines: string[] = [];
  const log = createLogger({ level, json, write: (l) => lines.push(l) });
  return { log, lines };
}

describe("log format", () => {
  test("JSON: one object per line with time, level, msg and the fields", () => {
    const { log, lines } = capture("info", true);
    log.info("hello", { requestId: "r1", status: 200 });
    expect(lines.length).toBe(1);
    expect(lines[0]!.endsWith("\n")).toBe(true);
    const o = JSON.parse(lines[0]!);
    expect(o).toMatchObject({ level: "info", msg: "hello", requestId: "r1", status: 200 });
    expect(Number.isNaN(Date.parse(o.time))).toBe(false);
  });

  test("text: time, level, message and key=value pairs", () => {
    const { log, lines } = capture("info", false);
    log.warn("slow", { provider: "openai", usage: { a: 1 }, skipped: undefined });
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+ WARN  slow provider=openai usage=\{"a":1\}\n$/);
  });

  test("text: numbers and booleans read as JSON writes them, non-finite numbers as null", () => {
    const { log, lines } = capture("info", false);
    log.info("request", { status: 200, ms: 12.34, neg: -0, big: 1e21, stream: false, nan: NaN, inf: Infinity, list: [1, "a"] });
    expect(lines[0]).toEndWith(' request status=200 ms=12.34 neg=0 big=1e+21 stream=false nan=null inf=null list=[1,"a"]\n');
  });

  test("levels: debug lines only at debug; enabled() says so", () => {
    const info = capture("info", true);
    info.log.debug("hidden");
    info.log.info("shown");
    expect(info.lines.length).toBe(1);
    expect(info.log.enabled("debug")).toBe(false);
    const debug = capture("debug", true);
    debug.log.debug("shown");
    expect(debug.lines.length).toBe(1);
    expect(debug.log.enabled("debug")).toBe(true);
    const silent = capture("silent", true);
    silent.log.error("nothing");
    expect(silent.lines.length).toBe(0);
  });

  test("identical lines in a row are all written (no throttling)", () => {
    const { log, lines } = capture("info", true);
    for (let i = 0; i < 20; i++) log.info("same", { n: 1 });
    expect(lines.length).toBe(20);
  });

  test("a child logger puts its fields on every line", () => {
    const { log, lines } = capture("debug", true);
    const child = log.child({ requestId: "req_abc" });
    child.info("one");
    child.debug("two", { extra: 1 });
    child.child({ server: "fs" }).warn("three");
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.every((o) => o.requestId === "req_abc")).toBe(true);
    expect(parsed[1].extra).toBe(1);
    expect(parsed[2].server).toBe("fs");
  });
});

describe("redaction", () => {
  test("known secret values are blanked wherever they appear, in JSON and text", () => {
    for (const json of [true, false]) {
      const { log, lines } = capture("debug", json);
      log.addSecrets(["sk-upstream-secret-1", "gw-key-42"]);
      log.debug("upstream said: Incorrect API key provided: sk-upstream-secret-1", { nested: { deep: ["gw-key-42 inside"] } });
      expect(lines[0]).not.toContain("sk-upstream-secret-1");
      expect(lines[0]).not.toContain("gw-key-42");
      expect(lines[0]).toContain("[REDACTED]");
    }
  });

  test("fields named like credentials are blanked; token counts are not", () => {
    const { log, lines } = capture("debug", true);
    log.info("headers", {
      headers: { Authorization: "Bearer abc", "x-api-key": "xyz", "content-type": "application/json" },
      api_key: "k",
      aws_secret_access_key: "s",
      password: "p",
      prompt_tokens: 12,
      max_tokens: 100,
    });
    const o = JSON.parse(lines[0]!);
    expect(o.headers).toEqual({ Authorization: "[REDACTED]", "x-api-key": "[REDACTED]", "content-type": "application/json" });
    expect(o.api_key).toBe("[REDACTED]");
    expect(o.aws_secret_access_key).toBe("[REDACTED]");
    expect(o.password).toBe("[REDACTED]");
    expect(o.prompt_tokens).toBe(12);
    expect(o.max_tokens).toBe(100);
  });

  test("credential shapes are caught even when unknown: Bearer tokens, sk- keys, AWS access key ids", () => {
    const r = new Redactor();
    expect(r.scrub("auth: Bearer abcdefghijkl.mnop")).toBe("auth: Bearer [REDACTED]");
    expect(r.scrub("key sk-proj-ABCDEFGHIJKLMNOPQRST was refused")).toBe("key [REDACTED] was refused");
    expect(r.scrub("id AKIAIOSFODNN7EXAMPLE here")).toBe("id [REDACTED] here");
    expect(r.scrub("nothing secret about gpt-4o-mini or sk-short")).toBe("nothing secret about gpt-4o-mini or sk-short");
  });

  test("too-short values are not treated as secrets (they would blank ordinary words)", () => {
    const r = new Redactor();
    r.add(["abc", "x", undefined, ""]);
    expect(r.size).toBe(0);
    r.add(["abcd"]);
    expect(r.scrub("abcd abc")).toBe("[REDACTED] abc");
  });

  test("a key containing another key is replaced whole", () => {
    const r = new Redactor();
    r.add(["secret-1", "secret-1-long"]);
    expect(r.scrub("x secret-1-long y")).toBe("x [REDACTED] y");
  });

  test("collectSecrets finds provider keys, gateway keys, MCP header and env secrets, AWS environment credentials", () => {
    const config = {
      server: { api_keys: ["alloy-key-1"] },
      providers: {
        openai: { type: "openai", api_key: "sk-provider", headers: { "api-key": "azure-key", "OpenAI-Organization": "org-1" } },
        bedrock: { type: "bedrock", region: "us-east-1", secret_access_key: "aws-inline-secret" },
      },
      mcp: {
        servers: {
          remote: { transport: "streamable-http", url: "https://x", headers: { Authorization: "Bearer mcp-token-123" } },
          fs: { transport: "stdio", command: "x", env: { GITHUB_TOKEN: "ghp_abcdef", LOG: "0" } },
        },
      },
    } as unknown as Config;
    const s = collectSecrets(config, { AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI", AWS_REGION: "us-east-1", HOME: "/root" });
    expect(s.exact).toEqual(expect.arrayContaining(["alloy-key-1", "sk-provider", "azure-key", "aws-inline-secret", "ghp_abcdef"]));
    expect(s.exact).not.toContain("org-1");
    expect(s.exact).not.toContain("0");
    expect(s.heuristic).toEqual(expect.arrayContaining(["Bearer mcp-token-123", "mcp-token-123", "wJalrXUtnFEMI"]));
    expect(s.heuristic).not.toContain("us-east-1");
    expect(s.heuristic).not.toContain("/root");
  });
});

test("collectSecrets finds labelled gateway keys and the metrics key", () => {
  const config = {
    server: { host: "0.0.0.0", keys: { team_a: { key: "team-a-key-1", rpm: 5 } }, metrics_api_key: "scrape-key-9" },
    providers: {},
    mcp: { servers: {} },
  } as unknown as Config;
  const s = collectSecrets(config, {});
  expect(s.exact).toEqual(expect.arrayContaining(["team-a-key-1", "scrape-key-9"]));
  expect(s.exact).not.toContain("0.0.0.0");
  expect(s.exact).not.toContain("team_a");
});

test("collectSecrets finds the admin key and a store URL's password", () => {
  const config = {
    server: { host: "0.0.0.0", admin_key: "admin-key-7" },
    providers: {},
    mcp: { servers: {} },
    store: { url: "postgres://alloy:p%40ss-word@db:5432/alloy" },
  } as unknown as Config;
  const s = collectSecrets(config, {});
  expect(s.exact).toEqual(expect.arrayContaining(["admin-key-7", "p%40ss-word", "p@ss-word"]));
});
