import { familiesOf, providerModules } from "../../src/providers/registry.ts";
import { describe, expect, test } from "bun:test";
import { loadConfig } from "../helpers/config.ts";
import { Router } from "../../src/gateway/route.ts";
import { writeConfig } from "../helpers/gateway.ts";

async function router(toml: string, env: Record<string, string> = {}) {
  return new Router(await loadConfig({ config: writeConfig(toml) }, env), familiesOf(providerModules));
}

const base = `
[providers.openai]
api_key = "k"
default_model = "gpt-4o-mini"
[providers.anthropic]
type = "mock"
default_model = "claude-haiku"
[providers.bedrock]
type = "mock"
default_model = "amazon.nova-lite-v1:0"
[providers.nokey]
type = "openai"
base_url = "https://api.openai.com/v1"
[governance]
fallback_order = ["anthropic", "bedrock", "openai"]
[models.smart]
targets = ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]
[models.pool]
targets = [[{ target = "openai/gpt-4o", weight = 2 }, "bedrock/us.amazon.nova-pro-v1:0"], "anthropic/claude-x"]
`;

const flat = (r: ReturnType<Router["resolve"]>) => r.steps.map((s) => s.deployments.map((d) => `${d.provider}/${d.model}`).join("|"));

describe("Router: model name → steps (the failover plan)", () => {
  test("provider/model: that provider first, then fallback_order with default models, skipping itself", async () => {
    const r = await router(base);
    expect(flat(r.resolve("openai/gpt-4o"))).toEqual(["openai/gpt-4o", "anthropic/claude-haiku", "bedrock/amazon.nova-lite-v1:0"]);
    expect(flat(r.resolve("anthropic/claude-opus"))).toEqual(["anthropic/claude-opus", "bedrock/amazon.nova-lite-v1:0", "openai/gpt-4o-mini"]);
  });

  test("a provider prefix naming an Object.prototype member is an unknown model (404), not a crash", async () => {
    const r = await router(base);
    for (const model of ["constructor/x", "__proto__/x", "toString/gpt-4o", "hasOwnProperty/y"]) {
      let err: unknown;
      try {
        r.resolve(model);
      } catch (e) {
        err = e;
      }
      expect((err as { kind?: string }).kind).toBe("not_found");
    }
  });

  test("a repeated name resolves to the same route; failures are not remembered", async () => {
    const r = await router(base);
    expect(r.resolve("openai/gpt-4o")).toBe(r.resolve("openai/gpt-4o"));
    expect(() => r.resolve("nope/x")).toThrow();
    expect(() => r.resolve("nope/x")).toThrow();
  });

  test("model ids may themselves contain slashes", async () => {
    const r = await router(base);
    expect(flat(r.resolve("openai/ft:org/model"))[0]).toBe("openai/ft:org/model");
  });

  test("an alias tries its own targets in order, not fallback_order", async () => {
    const r = await router(base);
    expect(flat(r.resolve("smart"))).toEqual(["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]);
  });

  test("a load-balanced alias target keeps its weighted deployments together", async () => {
    const r = await router(base);
    const route = r.resolve("pool");
    expect(route.steps[0]!.deployments).toEqual([
      { provider: "openai", model: "gpt-4o", weight: 2 },
      { provider: "bedrock", model: "us.amazon.nova-pro-v1:0", weight: 1 },
    ]);
    expect(flat(route)[1]).toBe("anthropic/claude-x");
  });

  test("bare names route by family", async () => {
    const r = await router(base);
    expect(flat(r.resolve("gpt-4.1"))[0]).toBe("openai/gpt-4.1");
    expect(flat(r.resolve("o3-mini"))[0]).toBe("openai/o3-mini");
    expect(flat(r.resolve("claude-sonnet-4-5"))[0]).toBe("anthropic/claude-sonnet-4-5");
    expect(flat(r.resolve("anthropic.claude-3-haiku-20240307-v1:0"))[0]).toBe("bedrock/anthropic.claude-3-haiku-20240307-v1:0");
    expect(flat(r.resolve("us.anthropic.claude-sonnet-4-5-v1:0"))[0]).toBe("bedrock/us.anthropic.claude-sonnet-4-5-v1:0");
    expect(flat(r.resolve("arn:aws:bedrock:us-east-1:123:inference-profile/x"))[0]).toBe("bedrock/arn:aws:bedrock:us-east-1:123:inference-profile/x");
    expect(flat(r.resolve("meta.llama3-70b-instruct-v1:0"))[0]).toBe("bedrock/meta.llama3-70b-instruct-v1:0");
  });

  test("unknown models are 404 model_not_found; providers without keys are 503 with the reason", async () => {
    const r = await router(base);
    for (const m of ["llama-3", "unknown/gpt-4o", "openai/"]) {
      const e = (() => {
        try {
          r.resolve(m);
        } catch (e) {
          return e as any;
        }
      })();
      expect(e.status).toBe(404);
      expect(e.code).toBe("model_not_found");
    }
    try {
      r.resolve("nokey/gpt-4o");
      throw new Error("resolved");
    } catch (e: any) {
      expect(e.status).toBe(503);
      expect(e.message).toContain("NOKEY_API_KEY");
    }
  });

  test("failover_enabled = false leaves only the primary", async () => {
    const r = await router(base.replace("[governance]", "[governance]\nfailover_enabled = false"));
    expect(flat(r.resolve("openai/gpt-4o"))).toEqual(["openai/gpt-4o"]);
  });
});
