import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../helpers/config.ts";
import { mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
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

  test("/mcp session bounds have defaults; a key's mcp_servers must name configured servers", async () => {
    const c = await load("");
    expect(c.mcp).toMatchObject({ gateway_max_sessions: 1000, gateway_session_idle_secs: 1800 });
    expect(await failure(`[server.keys.a]\nkey = "k1"\nmcp_servers = ["fs"]`)).toBe('server.keys.a.mcp_servers: unknown MCP server "fs"');
    const ok = await load(`[server.keys.a]\nkey = "k1"\nmcp_servers = ["fs"]\nmcp_tools = ["fs__read_*"]\n[mcp.servers.fs]\ncommand = "x"`);
    expect(ok.server.keys!.a).toMatchObject({ mcp_servers: ["fs"], mcp_tools: ["fs__read_*"] });
    expect(await failure(`[mcp]\ngateway_session_idle_secs = 0`)).toContain("mcp.gateway_session_idle_secs");
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

describe("config files that cannot be used say what is wrong with them", () => {
  const named = async (path: string) => {
    try {
      await loadConfig({ config: path }, {});
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error("config was accepted");
  };
  const dir = () => mkdtempSync(join(tmpdir(), "alloy-cfgpath-"));

  test("a directory is a directory, not a missing file", async () => {
    const d = dir();
    expect(await named(d)).toBe(`${d}: is a directory, not a config file`);
  });

  test("a symlink to nothing is a broken symlink, naming its target", async () => {
    const link = join(dir(), "config.toml");
    symlinkSync("/nonexistent/alloy-target.toml", link);
    expect(await named(link)).toBe(`${link}: broken symlink (points to /nonexistent/alloy-target.toml, which does not exist)`);
  });

  test("the default config.toml counts too: only a truly absent one is fine", async () => {
    const cwd = process.cwd();
    const d = dir();
    process.chdir(d);
    try {
      mkdirSync(join(d, "config.toml"));
      await expect(loadConfig({}, {})).rejects.toThrow("config.toml: is a directory, not a config file");
    } finally {
      process.chdir(cwd);
    }
  });

  test("a file that does not exist is still 'not found'", async () => {
    expect(await named("/nonexistent/alloy.toml")).toBe("/nonexistent/alloy.toml: config file not found");
  });

  test("inf and nan name the key and say they are not allowed (not 'got null')", async () => {
    expect(await failure(`[server]\ntimeout_secs = inf`)).toBe("server.timeout_secs: inf and nan are not allowed, got inf");
    expect(await failure(`[providers.mock]\nfail_rate = nan`)).toBe("providers.mock.fail_rate: inf and nan are not allowed, got nan");
    expect(await failure(`[governance]\nbackoff_max_ms = -inf`)).toBe("governance.backoff_max_ms: inf and nan are not allowed, got -inf");
    expect(await failure(`[x]\nlist = [1, 2, +inf]`)).toBe("x.list[2]: inf and nan are not allowed, got inf");
  });
});

describe("an empty environment variable is unset, for every variable and every provider", () => {
  const FILE_KEYS = `[providers.openai]\napi_key = "sk-openai-file"\n[providers.anthropic]\napi_key = "sk-ant-file"\n[providers.groq]\ntype = "openai"\nbase_url = "https://api.groq.com/openai/v1"\napi_key = "gsk-file"\n`;

  test("an empty provider key variable leaves the file's key in force (OpenAI, Anthropic and named providers alike)", async () => {
    const c = await load(FILE_KEYS, { OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "", GROQ_API_KEY: "" });
    expect(c.providers.openai?.api_key).toBe("sk-openai-file");
    expect(c.providers.anthropic?.api_key).toBe("sk-ant-file");
    expect(c.providers.groq?.api_key).toBe("gsk-file");
    expect(c.inactive).toEqual({});
  });

  test("an empty key variable alone does not create a provider", async () => {
    const c = await load("", { OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "", AWS_REGION: "" });
    expect(Object.keys(c.providers)).toEqual([]);
  });

  test("AWS: an empty AWS_REGION falls through to AWS_DEFAULT_REGION; an empty AWS_PROFILE is no profile", async () => {
    const c = await load(`[providers.bedrock]\n`, { AWS_REGION: "", AWS_DEFAULT_REGION: "eu-west-1", AWS_PROFILE: "" });
    expect(c.providers.bedrock?.region).toBe("eu-west-1");
    expect(c.providers.bedrock && "profile" in c.providers.bedrock).toBe(false);
  });

  test("empty ALLOY_PORT, ALLOY_LOG_LEVEL, ALLOY_CONFIG and ALLOY_API_KEYS are the defaults or the file", async () => {
    const file = writeConfig(`[server]\nport = 4321\napi_keys = ["from-file"]\n[providers.mock]\n`);
    const c = await loadConfig({ config: file }, { ALLOY_PORT: "", ALLOY_LOG_LEVEL: "", ALLOY_API_KEYS: "" });
    expect(c.server.port).toBe(4321);
    expect(c.log.level).toBe("info");
    expect(c.server.api_keys).toEqual(["from-file"]);
    const cwd = process.cwd();
    process.chdir(mkdtempSync(join(tmpdir(), "alloy-noconfig-")));
    try {
      const d = await loadConfig({}, { ALLOY_CONFIG: "" }); // the default config.toml, absent here: fine
      expect(d.file).toBeNull();
      expect(d.server.port).toBe(3000);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("server.read_timeout_secs", () => {
  test("takes fractions of a second (tests use them), and whole seconds as before", async () => {
    expect((await load(`[server]\nread_timeout_secs = 0.2`)).server.read_timeout_secs).toBe(0.2);
    expect((await load(`[server]\nread_timeout_secs = 30`)).server.read_timeout_secs).toBe(30);
    expect((await load("")).server.read_timeout_secs).toBe(30);
  });

  test("must be above 0 and at most 254", async () => {
    expect(await failure(`[server]\nread_timeout_secs = 0`)).toContain("server.read_timeout_secs: expected number to be greater than 0");
    expect(await failure(`[server]\nread_timeout_secs = 255`)).toContain("server.read_timeout_secs: expected number to be less or equal to 254");
  });
});
