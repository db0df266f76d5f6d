import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config/load.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeConfig } from "../helpers/gateway.ts";

const load = (toml: string, env: Record<string, string> = {}, flags: Record<string, unknown> = {}) =>
  loadConfig({ config: writeConfig(toml), ...flags }, env);

async function failure(toml: string, env: Record<string, string> = {}): Promise<string> {
  try {
    await load(toml, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message.replace(/^.*?config\.toml: /, "");
  }
  throw new Error("config was accepted");
}

describe("config loading", () => {
  test("defaults fill every key", async () => {
    const c = await load("");
    expect(c.server).toMatchObject({ host: "0.0.0.0", port: 3000, timeout_secs: 120, max_body_size: 10485760, shutdown_grace_secs: 30 });
    expect(c.governance.max_retries).toBe(3);
    expect(c.governance.failover_enabled).toBe(true);
    expect(c.mcp.max_iterations).toBe(10);
    expect(c.providers).toEqual({});
  });

  test("unknown keys are refused with their path", async () => {
    expect(await failure(`[server]\nhots = "x"`)).toBe("server.hots: unknown key");
    expect(await failure(`[providers.openai]\napi_key = "k"\nmax_concurent = 3`)).toBe("providers.openai.max_concurent: unknown key");
    expect(await failure(`[sever]\nport = 1`)).toBe("sever: unknown key");
  });

  test("wrong types name the key and what was expected", async () => {
    expect(await failure(`[server]\nport = "eighty"`)).toContain("server.port: expected integer");
    expect(await failure(`[governance]\nmax_retries = -1`)).toContain("governance.max_retries: expected integer to be greater or equal to 0");
    expect(await failure(`[models.x]\ntargets = "openai/gpt-4o"`)).toContain("models.x.targets: expected array");
  });

  test("a provider that is not named after a type needs one", async () => {
    expect(await failure(`[providers.groq]\nbase_url = "http://x"`)).toContain("providers.groq.type: expected one of");
    expect(await failure(`[providers.groq]\ntype = "gopher"`)).toContain('providers.groq.type: expected one of');
    expect(await failure(`[providers.x]\ntype = "constructor"`)).toContain('providers.x.type: expected one of');
    expect(await failure(`[providers.toString]\nbase_url = "http://x"`)).toContain("providers.toString.type: expected one of");
  });

  test("alias targets and fallback_order must name configured providers", async () => {
    expect(await failure(`[models.smart]\ntargets = ["nope/gpt"]`)).toBe('models.smart.targets[0]: unknown provider "nope"');
    expect(await failure(`[providers.mock]\n[models.smart]\ntargets = ["mock"]`)).toBe('models.smart.targets[0]: expected "provider/model", got "mock"');
    expect(await failure(`[governance]\nfallback_order = ["ghost"]`)).toBe('governance.fallback_order[0]: unknown provider "ghost"');
  });

  test("invalid TOML is one line with the file", async () => {
    expect(await failure(`[server\nport = 1`)).toContain("invalid TOML");
  });

  test("provider keys: the environment wins over the file; a missing key makes the provider inactive, not an error", async () => {
    const c = await load(`[providers.openai]\napi_key = "from-file"\n[providers.groq]\ntype = "openai"\nbase_url = "https://api.groq.com/openai/v1"`, {
      OPENAI_API_KEY: "from-env",
    });
    expect(c.providers.openai!.api_key).toBe("from-env");
    expect(c.providers.groq!.api_key).toBeUndefined(); // self-hosted style: keyless allowed
    const d = await load(`[providers.openai]\n`);
    expect(d.providers.openai).toBeUndefined();
    expect(d.inactive.openai).toContain("OPENAI_API_KEY");
  });

  test("environment-only setup: no default config.toml is fine, and OPENAI_API_KEY alone creates the openai provider", async () => {
    const cwd = process.cwd();
    process.chdir(mkdtempSync(join(tmpdir(), "alloy-noconfig-")));
    try {
      const c = await loadConfig({}, { OPENAI_API_KEY: "sk" });
      expect(c.file).toBeNull();
      expect(Object.keys(c.providers)).toEqual(["openai"]);
      expect(c.providers.openai!.base_url).toBe("https://api.openai.com/v1");
    } finally {
      process.chdir(cwd);
    }
  });

  test("port and log level: flag > environment > file", async () => {
    const toml = `[server]\nport = 1111`;
    expect((await load(toml)).server.port).toBe(1111);
    expect((await load(toml, { ALLOY_PORT: "2222" })).server.port).toBe(2222);
    expect((await load(toml, { ALLOY_PORT: "2222" }, { port: "3333" })).server.port).toBe(3333);
    expect((await load("", { ALLOY_LOG_LEVEL: "debug" })).log.level).toBe("debug");
    expect((await load("", { ALLOY_LOG_LEVEL: "debug" }, { logLevel: "warn" })).log.level).toBe("warn");
    await expect(load("", {}, { port: "http" })).rejects.toThrow("--port: expected a port number");
    await expect(load("", { ALLOY_LOG_LEVEL: "loud" })).rejects.toThrow("ALLOY_LOG_LEVEL: expected one of");
  });

  test("the shipped config.toml is valid and keyless", async () => {
    const c = await loadConfig({ config: `${import.meta.dir}/../../config.toml` }, {});
    expect(Object.keys(c.providers)).toEqual(["mock", "flaky"]);
    expect(c.models.demo!.targets).toEqual(["flaky/echo", "mock/echo"]);
  });
});
