// The bench's verdicts and report, and the Alloy config it generates.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { checks, renderMarkdown, type BenchResult, type TargetResult } from "../../bench/report.ts";
import { alloyConfig, BENCH_KEY, buildTargets, keyedConfig, registeredProviderTypes, servedRoutes } from "../../bench/targets.ts";

const MB = 1024 * 1024;

function target(key: string, over: Partial<TargetResult> = {}): TargetResult {
  return {
    key,
    label: key,
    alloy: key.startsWith("alloy"),
    streamed: true,
    rps64: 10_000,
    p50at64: 5,
    p99at64: 10,
    p50at1: 0.1,
    p99at1: 1,
    streamRps64: 1000,
    ttfcP50: 0.5,
    ttfcP99: 1,
    chunksPerSec: 50_000,
    cpuUs: 30,
    streamCpuUs: 300,
    failures: 0,
    requests: 1000,
    ...over,
  };
}

function result(
  alloy: Partial<TargetResult>,
  mem: { idle: number; first: number; last: number; hwm: number },
  size = { alloy: 103 * MB, empty: 100 * MB },
  bedrock: Partial<TargetResult> = { cpuUs: 39 },
): BenchResult {
  return {
    when: "2025-01-01T00:00:00Z",
    meta: { tool: "wrk 4.1.0 (1 thread)", mode: "test", machine: "2 × test cpu", bun: "1.4.5", streamChunks: 50 },
    targets: [
      target("direct", { p50at1: 0.05 }),
      target("bare", { p50at1: 0.12, rps64: 12_000, chunksPerSec: 60_000 }),
      target("floor", { p50at1: 0.15, cpuUs: 25 }),
      target("alloy-openai", alloy),
      target("alloy-bedrock", bedrock),
      target("alloy-keyed", { skipped: "not registered" }),
      target("direct-embeddings", { baseline: "direct-embeddings", streamed: false, p50at1: 0.04 }),
      target("alloy-embeddings", { baseline: "direct-embeddings", streamed: false, p50at1: 0.09 }),
    ],
    mem: {
      idle: { rss: mem.idle * MB, hwm: mem.idle * MB, anon: 8 * MB, file: (mem.idle - 8) * MB },
      first: { requests: 1000, mem: { rss: mem.first * MB, hwm: mem.first * MB } },
      last: { requests: 100_000, mem: { rss: mem.last * MB, hwm: mem.hwm * MB } },
    },
    size,
    notes: ["a note"],
  };
}

const verdicts = (r: BenchResult) => checks(r).map((c) => c.verdict);

describe("checks", () => {
  test("all pass when Alloy is within the issue's targets", () => {
    // req/s 9,000 vs the floor's 10,000 = 0.90x; added p50: Alloy 0.16 - 0.05 = 0.11 vs floor 0.15 - 0.05 = 0.10 = 1.1x;
    // chunks/s 51,000 vs bare 60,000 = 0.85x; Bedrock CPU 39 vs 30 µs = 1.3x.
    const r = result({ rps64: 9_000, p50at1: 0.16, chunksPerSec: 51_000 }, { idle: 40, first: 60, last: 63, hwm: 80 });
    expect(verdicts(r)).toEqual(["PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS"]);
    expect(checks(r).map((c) => c.name)).toEqual([
      "Alloy → OpenAI JSON req/s @64 ≥ 0.90 × the floor",
      "added p50 @1 ≤ 1.2 × the floor's",
      "streamed chunks/s @1 ≥ 0.85 × a bare relay",
      "Alloy → Bedrock CPU per call ≤ 1.3 × Alloy → OpenAI",
      "idle RSS ≤ 45 MB",
      "peak RSS after 100,000 mixed requests ≤ 90 MB",
      "(also) no RSS growth from 1,000 to 100,000 requests",
      "(also) binary ≤ empty compile + 5 MB",
    ]);
  });

  test("each target fails on its own", () => {
    const r = result({ rps64: 8_900, p50at1: 0.18, chunksPerSec: 50_000 }, { idle: 50, first: 60, last: 70, hwm: 95 }, { alloy: 106 * MB, empty: 100 * MB }, { cpuUs: 40 });
    expect(verdicts(r)).toEqual(["FAIL", "FAIL", "FAIL", "FAIL", "FAIL", "FAIL", "FAIL", "FAIL"]);
    const c = checks(r);
    expect(c[0]!.detail).toBe("8,900 vs 10,000 req/s = 0.89x");
    expect(c[1]!.detail).toBe("Alloy +0.130 ms vs floor +0.100 ms = 1.30x");
    expect(c[2]!.detail).toBe("50,000 vs 60,000 chunks/s = 0.83x; @64: 50,000 vs 50,000 chunks/s = 1.00x");
    expect(c[3]!.detail).toBe("JSON 40 vs 30 µs = 1.33x; streamed 300 vs 300 µs = 1.00x");
  });

  test("JSON-only memory marks are judged and listed on their own, after the others", () => {
    const r = result({ rps64: 9_500, p50at1: 0.16 }, { idle: 40, first: 60, last: 63, hwm: 120 });
    r.mem!.jsonOnly = {
      first: { requests: 1000, mem: { rss: 70 * MB, hwm: 70 * MB } },
      last: { requests: 100_000, mem: { rss: 90 * MB, hwm: 85 * MB } },
    };
    const c = checks(r);
    expect(c.map((x) => x.verdict).slice(4)).toEqual(["PASS", "FAIL", "PASS", "PASS", "PASS", "FAIL"]);
    expect(c[8]!.name).toBe("(also, OpenAI JSON path only) peak RSS after 100,000 requests ≤ 90 MB");
    expect(c[9]!.detail).toBe("VmRSS 70.0 MB → 90.0 MB (+28.6%)");
    expect(renderMarkdown(r)).toContain("| fresh Alloy, OpenAI JSON only: after 100,000 | 90.0 MB | 85.0 MB |");
  });

  test("missing measurements are N/A, never a pass", () => {
    const r = result({ skipped: "probe failed" }, { idle: 1, first: 1, last: 1, hwm: 1 });
    delete r.mem;
    delete r.size;
    expect(checks(r).every((c) => c.verdict === "N/A")).toBe(true);
  });

  test("a run without the floor cannot judge the floor's targets", () => {
    const r = result({ rps64: 9_000, p50at1: 0.16, chunksPerSec: 51_000 }, { idle: 40, first: 60, last: 63, hwm: 80 });
    r.targets = r.targets.filter((t) => t.key !== "floor");
    expect(verdicts(r).slice(0, 4)).toEqual(["N/A", "N/A", "PASS", "PASS"]);
  });
});

test("the report has every section, skipped rows with their reason, both ratio tables and the verdict lines", () => {
  const md = renderMarkdown(result({ rps64: 9_000, p50at1: 0.2, cpuUs: 45 }, { idle: 40, first: 60, last: 61, hwm: 70 }));
  for (const h of ["## Non-streamed", "## Streamed", "## Ratios to the floor", "## Ratios to the bare proxy", "## Feature costs", "## Memory and size", "## Targets (issue #26", "## Notes"])
    expect(md).toContain(h);
  expect(md).toContain("| alloy-keyed | skipped: not registered |");
  expect(md).toContain("| alloy-openai | 9,000 | 5.000 | 10.0 | 0.200 | 1.000 | +0.150 | 45 | 0 / 1,000 |");
  // Added latency over the route's own direct run.
  expect(md).toContain("| alloy-embeddings | 10,000 | 5.000 | 10.0 | 0.090 | 1.000 | +0.050 | 30 | 0 / 1,000 |");
  // To the floor: req/s 0.90x, p99 1.00x, added p50 0.15/0.10, CPU 45/25; streams 1.00x, added TTFC (0/0 → 1), chunks 1.00x, CPU/stream 1.00x.
  expect(md).toContain("| alloy-openai | 0.90x | 1.00x | 1.50x | 1.80x | 1.00x | 1.00x | 1.00x | 1.00x |");
  // To the bare proxy: req/s 9,000/12,000, added p50 0.15/0.07, chunks 50,000/60,000.
  expect(md).toContain("| alloy-openai | 0.75x | 1.00x | 2.14x | 1.00x | 1.00x | 0.83x |");
  expect(md).toContain("| Bedrock (SigV4, eventstream) vs OpenAI | 1.11x | -0.100 ms | 0.87x | 1.00x | 1.00x |");
  // Embeddings answers are another size: no row in the ratio tables.
  expect(md.split("## Ratios to the floor")[1]!.split("## Memory")[0]).not.toContain("alloy-embeddings");
  expect(md).toContain("- **PASS** Alloy → OpenAI JSON req/s @64 ≥ 0.90 × the floor: 9,000 vs 10,000 req/s = 0.90x");
  expect(md).toContain("- **PASS** idle RSS ≤ 45 MB: 40.0 MB");
  expect(md).toContain("| Alloy idle | 40.0 MB | 40.0 MB | 8.0 + 32.0 MB |");
});

describe("bench config", () => {
  const template = `
[server]
host = "127.0.0.1"
[providers.bench-openai]
type = "openai"
base_url = "UPSTREAM/v1"
[providers.bench-bedrock]
type = "bedrock"
endpoint = "UPSTREAM"
[governance]
max_retries = 0
`;

  test("fills in the upstream and leaves out provider types Alloy does not register", () => {
    const { toml, missing } = alloyConfig(template, "http://127.0.0.1:4321", new Set(["openai", "mock"]));
    const doc = parse(toml) as any;
    expect(doc.providers["bench-openai"].base_url).toBe("http://127.0.0.1:4321/v1");
    expect(doc.providers["bench-bedrock"]).toBeUndefined();
    expect(doc.governance.max_retries).toBe(0);
    expect(missing.get("bench-bedrock")).toContain('"bedrock" is not registered');
  });

  test("registered types are read from the registry's object literal", () => {
    const root = mkdtempSync(join(tmpdir(), "bench-reg-"));
    mkdirSync(join(root, "src/providers"), { recursive: true });
    writeFileSync(
      join(root, "src/providers/registry.ts"),
      'import { openaiModule } from "./openai.ts";\nexport const providerModules: Record<string, ProviderModule> = {\n  openai: openaiModule,\n  mock: mockModule,\n};\nexport function f() { return { x: 1 }; }\n',
    );
    expect([...registeredProviderTypes(root)].sort()).toEqual(["mock", "openai"]);
  });

  test("targets carry the skip reason of their provider or route", () => {
    const targets = buildTargets({ upstream: 1, bare: 2, floor: 4, alloy: 3, keyed: 5 }, new Map([["bench-bedrock", "not registered"]]), new Set(["/v1/chat/completions", "/v1/messages", "/v1/embeddings"]));
    expect(targets.map((t) => t.key)).toEqual([
      "direct",
      "bare",
      "floor",
      "alloy-openai",
      "alloy-anthropic",
      "alloy-bedrock",
      "alloy-hedged",
      "alloy-keyed",
      "direct-messages",
      "alloy-messages-native",
      "alloy-messages-openai",
      "direct-responses",
      "alloy-responses-native",
      "alloy-responses-chat",
      "direct-embeddings",
      "alloy-embeddings",
    ]);
    const by = (key: string) => targets.find((t) => t.key === key)!;
    expect(by("floor")).toMatchObject({ url: "http://127.0.0.1:4/v1/chat/completions", proc: "floor" });
    expect(by("alloy-embeddings")).toMatchObject({ url: "http://127.0.0.1:3/v1/embeddings", baseline: "direct-embeddings", proc: "alloy" });
    expect(JSON.parse(by("alloy-embeddings").json)).toMatchObject({ model: "bench-openai/text-embedding-bench", dimensions: 256 });
    expect(by("alloy-bedrock").skipped).toBe("not registered");
    expect(by("alloy-openai").skipped).toBeUndefined();
    expect(JSON.parse(by("alloy-anthropic").stream!)).toMatchObject({ model: "bench-anthropic/claude-bench", stream: true });
    expect(by("alloy-keyed")).toMatchObject({ url: "http://127.0.0.1:5/v1/chat/completions", proc: "keyed", headers: { authorization: `Bearer ${BENCH_KEY}` } });
    expect(JSON.parse(by("alloy-hedged").json).model).toBe("bench-hedged");
    // /v1/messages: an Anthropic body, counted as an Anthropic stream, measured against its own direct run.
    expect(by("alloy-messages-native")).toMatchObject({ url: "http://127.0.0.1:3/v1/messages", dialect: "anthropic", baseline: "direct-messages" });
    expect(JSON.parse(by("alloy-messages-openai").stream!)).toMatchObject({ model: "bench-openai/gpt-bench", max_tokens: 256, stream: true, system: expect.any(String) });
    expect(by("direct-messages")).toMatchObject({ url: "http://127.0.0.1:1/v1/messages", baseline: "direct-messages", proc: "upstream" });
    // A route not in src/routes.ts: skipped with the reason.
    expect(by("alloy-responses-native").skipped).toBe("route /v1/responses is not in src/routes.ts on this build");
    expect(JSON.parse(by("alloy-responses-chat").json)).toMatchObject({ model: "bench-openai/gpt-bench", store: false, instructions: expect.any(String) });
    expect(by("direct-responses").skipped).toBeUndefined();
  });

  test("the routes Alloy serves are read from src/routes.ts", () => {
    const routes = servedRoutes(join(import.meta.dir, "../.."));
    for (const p of ["/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/embeddings"]) expect(routes.has(p)).toBe(true);
  });

  test("the keyed config adds one key with an rpm limit Alloy accepts", () => {
    const doc = parse(keyedConfig(alloyConfig(template, "http://127.0.0.1:4321", new Set(["openai"])).toml)) as any;
    expect(doc.server.keys.bench).toEqual({ key: BENCH_KEY, rpm: 100_000 });
    expect(doc.server.host).toBe("127.0.0.1");
  });

});
