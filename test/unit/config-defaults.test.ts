// withDefaults must fill config defaults exactly as TypeBox's Value.Default did (it replaced it for startup cost).
import { describe, expect, test } from "bun:test";
import { Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { withDefaults } from "../../src/config/defaults.ts";
import { GovernanceConfig, McpConfig, ModelAlias, ServerConfig } from "../../src/config/schema.ts";

const cases: Array<[string, any, unknown]> = [
  ["server, empty", ServerConfig, {}],
  ["server, some keys set", ServerConfig, { port: 8080, keys: { team: { key: "k1", rpm: 5 } }, api_keys: ["a"] }],
  ["governance, empty", GovernanceConfig, {}],
  ["governance, set", GovernanceConfig, { max_retries: 0, fallback_order: ["openai"], failover_enabled: false }],
  ["mcp, empty", McpConfig, {}],
  ["mcp, servers get their transport", McpConfig, { servers: { a: { command: "x" }, b: { transport: "sse", url: "http://h" } } }],
  ["alias with deployments", ModelAlias, { targets: ["openai/x", [{ target: "a/b", weight: 2 }, "c/d"]] }],
];

describe("withDefaults", () => {
  for (const [name, schema, value] of cases)
    test(`matches Value.Default: ${name}`, () => {
      expect(withDefaults(schema, structuredClone(value))).toEqual(Value.Default(schema, structuredClone(value)));
    });

  test("fills nested objects, array items and record values", () => {
    const Inner = T.Object({ n: T.Number({ default: 7 }), s: T.Optional(T.String()) });
    const S = T.Object({
      inner: T.Object({ deep: T.Object({ n: T.Number({ default: 7 }) }, { default: {} }), none: Inner }, { default: {} }),
      list: T.Array(Inner),
      map: T.Record(T.String(), Inner),
    });
    const value = { list: [{}, { n: 1 }], map: { a: {}, b: { n: 2, s: "x" } } };
    // An object without a default of its own stays absent (`none`). Unlike Value.Default, record values get their
    // defaults even when the value schema has no `default` of its own (`map.a`).
    expect(withDefaults(S, value)).toEqual({
      inner: { deep: { n: 7 } },
      list: [{ n: 7 }, { n: 1 }],
      map: { a: { n: 7 }, b: { n: 2, s: "x" } },
    });
  });

  test("keeps values that are set, including falsy ones", () => {
    expect(withDefaults(GovernanceConfig, { max_retries: 0, failover_enabled: false, fallback_order: [] })).toMatchObject({
      max_retries: 0,
      failover_enabled: false,
      fallback_order: [],
    });
  });

  test("a default object or array is copied, never shared between configs", () => {
    const a = withDefaults(GovernanceConfig, {}) as { fallback_order: string[] };
    a.fallback_order.push("mutated");
    expect((withDefaults(GovernanceConfig, {}) as { fallback_order: string[] }).fallback_order).toEqual([]);
  });

  test("leaves values of the wrong type for the checker to report", () => {
    expect(withDefaults(ServerConfig, { port: "x", keys: "nope" })).toMatchObject({ port: "x", keys: "nope", host: "0.0.0.0" });
    expect(withDefaults(ServerConfig, "nope")).toBe("nope");
  });
});
