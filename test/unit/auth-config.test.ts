// The gateway-key config: plain api_keys keep working, labelled keys are checked at startup, env keys win.
import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../helpers/config.ts";
import { writeConfig } from "../helpers/gateway.ts";

const load = (toml: string, env: Record<string, string> = {}) => loadConfig({ config: writeConfig(toml) }, env);

async function failure(toml: string): Promise<string> {
  try {
    await load(toml);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message.replace(/^.*?config\.toml: /, "");
  }
  throw new Error("config was accepted");
}

describe("gateway key config", () => {
  test("defaults: no keys, metrics open, 30 s read timeout", async () => {
    const c = await load("");
    expect(c.server.api_keys).toBeUndefined();
    expect(c.server.keys).toBeUndefined();
    expect(c.server.metrics_require_key).toBe(false);
    expect(c.server.read_timeout_secs).toBe(30);
  });

  test("plain api_keys and labelled keys side by side", async () => {
    const c = await load(`
[server]
api_keys = ["a", "b"]
metrics_api_key = "m"
read_timeout_secs = 5
[server.keys.team-a]
key = "t"
rpm = 60
max_concurrent = 4
models = ["smart", "openai/gpt-4o-mini"]
`);
    expect(c.server.api_keys).toEqual(["a", "b"]);
    expect(c.server.keys).toEqual({ "team-a": { key: "t", rpm: 60, max_concurrent: 4, models: ["smart", "openai/gpt-4o-mini"] } });
    expect(c.server.metrics_api_key).toBe("m");
    expect(c.server.read_timeout_secs).toBe(5);
  });

  test("ALLOY_API_KEYS replaces api_keys, comma-separated, blanks dropped", async () => {
    const c = await load(`[server]\napi_keys = ["file"]`, { ALLOY_API_KEYS: " x , y,," });
    expect(c.server.api_keys).toEqual(["x", "y"]);
  });

  test("bad key config is one clear line", async () => {
    expect(await failure(`[server]\napi_keys = [""]`)).toContain("server.api_keys[0]: expected string length greater or equal to 1");
    expect(await failure(`[server.keys.a]\nrpm = 5`)).toContain("server.keys.a.key: expected required property");
    expect(await failure(`[server.keys.a]\nkey = "k"\nrpm = 0`)).toContain("server.keys.a.rpm: expected integer to be greater or equal to 1");
    expect(await failure(`[server.keys.a]\nkey = "k"\nlimit = 1`)).toBe("server.keys.a.limit: unknown key");
    expect(await failure(`[server.keys."has space"]\nkey = "k"`)).toContain("server.keys.has space: labels may use letters");
    expect(await failure(`[server]\napi_keys = ["k"]\n[server.keys.a]\nkey = "k"`)).toBe("server.keys.a.key: this key is already configured elsewhere");
    expect(await failure(`[server]\nmetrics_require_key = true`)).toContain("server.metrics_require_key: needs");
    expect(await failure(`[server]\nread_timeout_secs = 0`)).toContain("server.read_timeout_secs");
  });
});
