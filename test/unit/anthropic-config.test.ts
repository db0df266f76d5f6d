// [providers.anthropic] config: keys from file or environment, defaults, inactive without a key, and the headers
// the provider builds from them.
import { DEFAULT_LIMITS } from "../../src/providers/upstream.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../helpers/config.ts";
import { anthropicModule, type AnthropicConfig } from "../../src/providers/anthropic.ts";
import { writeConfig } from "../helpers/gateway.ts";
import { startAnthropicMock } from "../mocks/anthropic-upstream.ts";

const load = (toml: string, env: Record<string, string> = {}) => loadConfig({ config: writeConfig(toml) }, env);

describe("Anthropic provider config", () => {
  test("[providers.anthropic]: file key, default base_url and options", async () => {
    const c = await load(`[providers.anthropic]\napi_key = "sk-file"`);
    expect(c.providers.anthropic).toMatchObject({
      type: "anthropic",
      api_key: "sk-file",
      base_url: "https://api.anthropic.com",
      anthropic_version: "2023-06-01",
      default_max_tokens: 4096,
    });
  });

  test("ANTHROPIC_API_KEY wins over the file, and alone enables the provider", async () => {
    const c = await load(`[providers.anthropic]\napi_key = "sk-file"`, { ANTHROPIC_API_KEY: "sk-env" });
    expect(c.providers.anthropic!.api_key).toBe("sk-env");
    const implicit = await load(``, { ANTHROPIC_API_KEY: "sk-env" });
    expect(implicit.providers.anthropic!.api_key).toBe("sk-env");
  });

  test("other names with type = \"anthropic\" read <NAME>_API_KEY", async () => {
    const c = await load(`[providers.claude-eu]\ntype = "anthropic"\nbase_url = "https://eu.example.com"`, { CLAUDE_EU_API_KEY: "sk-eu" });
    expect(c.providers["claude-eu"]).toMatchObject({ type: "anthropic", api_key: "sk-eu", base_url: "https://eu.example.com" });
  });

  test("no key: inactive with a reason naming the variable", async () => {
    const c = await load(`[providers.anthropic]\ntimeout_secs = 5`);
    expect(c.providers.anthropic).toBeUndefined();
    expect(c.inactive.anthropic).toContain("ANTHROPIC_API_KEY");
  });

  test("options are validated: unknown keys and bad values are one clear error", async () => {
    await expect(load(`[providers.anthropic]\napi_key = "k"\nmax_tokens_default = 5`)).rejects.toThrow("providers.anthropic.max_tokens_default: unknown key");
    await expect(load(`[providers.anthropic]\napi_key = "k"\ndefault_max_tokens = 0`)).rejects.toThrow("providers.anthropic.default_max_tokens");
  });
});

describe("headers and defaults on the wire", () => {
  const upstream = startAnthropicMock({ apiKey: "sk-ant" });
  afterAll(() => upstream.stop());

  test("anthropic_version, beta and default_max_tokens reach the upstream", async () => {
    const cfg = { type: "anthropic", api_key: "sk-ant", base_url: upstream.url, timeout_secs: 5, max_concurrent: 1, anthropic_version: "2023-06-01", default_max_tokens: 321, beta: ["a-1", "b-2"] } as AnthropicConfig;
    const p = anthropicModule.create("anthropic", cfg, DEFAULT_LIMITS);
    const res = await p.chat({ model: "claude-x", messages: [{ role: "user", content: "hi" }] }, { model: "claude-x", signal: new AbortController().signal, requestId: "req-1" });
    expect(res.value.choices[0]!.message.content).toBe("Hello from Claude");
    const call = upstream.calls[upstream.calls.length - 1]!;
    expect(call.headers["anthropic-beta"]).toBe("a-1,b-2");
    expect(call.headers["anthropic-version"]).toBe("2023-06-01");
    expect(call.headers["x-request-id"]).toBe("req-1");
    expect(call.body.max_tokens).toBe(321);
  });
});
