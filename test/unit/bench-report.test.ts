// The bench's verdicts and report, and the Alloy config it generates.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { checks, renderMarkdown, type BenchResult, type TargetResult } from "../../bench/report.ts";
import { alloyConfig, buildTargets, registeredProviderTypes } from "../../bench/targets.ts";

const MB = 1024 * 1024;

function target(key: string, over: Partial<TargetResult> = {}): TargetResult {
  return {
    key,
    label: key,
    alloy: key.startsWith("alloy"),
    rps64: 10_000,
    p50at64: 5,
    p99at64: 10,
    p50at1: 0.1,
    p99at1: 1,
    streamRps64: 1000,
    ttfcP50: 0.5,
    ttfcP99: 1,
    chunksPerSec: 50_000,
    failures: 0,
    requests: 1000,
    ...over,
  };
}

function result(alloy: Partial<TargetResult>, mem: { idle: number; first: number; last: number; hwm: number }, size = { alloy: 103 * MB, empty: 100 * MB }): BenchResult {
  return {
    when: "2025-01-01T00:00:00Z",
    meta: { tool: "wrk 4.1.0 (1 thread)", mode: "test", machine: "2 × test cpu", bun: "1.4.5", streamChunks: 50 },
    targets: [target("direct", { p50at1: 0.05 }), target("bare", { p50at1: 0.15 }), target("alloy-openai", alloy), target("alloy-bedrock", { skipped: "not registered" })],
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
    // added p50: Alloy 0.16 - 0.05 = 0.11 vs bare 0.15 - 0.05 = 0.10 → 1.1x; throughput exactly 95%.
    expect(verdicts(result({ rps64: 9_500, p50at1: 0.16 }, { idle: 40, first: 60, last: 63, hwm: 80 }))).toEqual(["PASS", "PASS", "PASS", "PASS", "PASS", "PASS"]);
  });

  test("each target fails on its own", () => {
    const r = result({ rps64: 9_000, p50at1: 0.2 }, { idle: 50, first: 60, last: 70, hwm: 95 }, { alloy: 106 * MB, empty: 100 * MB });
    expect(verdicts(r)).toEqual(["FAIL", "FAIL", "FAIL", "FAIL", "FAIL", "FAIL"]);
    expect(checks(r)[0]!.detail).toBe("9,000 vs 10,000 req/s = 90.0%");
  });

  test("JSON-only memory marks are judged and listed on their own, after the issue's six", () => {
    const r = result({ rps64: 9_500, p50at1: 0.16 }, { idle: 40, first: 60, last: 63, hwm: 120 });
    r.mem!.jsonOnly = {
      first: { requests: 1000, mem: { rss: 70 * MB, hwm: 70 * MB } },
      last: { requests: 100_000, mem: { rss: 90 * MB, hwm: 85 * MB } },
    };
    const c = checks(r);
    expect(c.map((x) => x.verdict)).toEqual(["PASS", "PASS", "PASS", "FAIL", "PASS", "PASS", "PASS", "FAIL"]);
    expect(c[6]!.name).toBe("(OpenAI JSON path only) peak RSS after 100,000 requests ≤ 90 MB");
    expect(c[7]!.detail).toBe("VmRSS 70.0 MB → 90.0 MB (+28.6%)");
    expect(renderMarkdown(r)).toContain("| fresh Alloy, OpenAI JSON only: after 100,000 | 90.0 MB | 85.0 MB |");
  });

  test("missing measurements are N/A, never a pass", () => {
    const r = result({ skipped: "probe failed" }, { idle: 1, first: 1, last: 1, hwm: 1 });
    delete r.mem;
    delete r.size;
    expect(checks(r).every((c) => c.verdict === "N/A")).toBe(true);
  });
});

test("the report has every section, skipped rows with their reason and the verdict lines", () => {
  const md = renderMarkdown(result({ rps64: 9_000, p50at1: 0.2 }, { idle: 40, first: 60, last: 61, hwm: 70 }));
  for (const h of ["## Non-streamed", "## Streamed", "## Ratios to the bare proxy", "## Memory and size", "## Issue #9 targets", "## Notes"]) expect(md).toContain(h);
  expect(md).toContain("| alloy-bedrock | skipped: not registered |");
  expect(md).toContain("| alloy-openai | 9,000 | 5.000 | 10.0 | 0.200 | 1.000 | +0.150 | 0 / 1,000 |");
  expect(md).toContain("| alloy-openai | 0.90x |");
  expect(md).toContain("- **FAIL** throughput @64 ≥ 95% of bare proxy");
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

  test("targets carry the skip reason of their provider", () => {
    const targets = buildTargets({ upstream: 1, bare: 2, alloy: 3 }, new Map([["bench-bedrock", "not registered"]]));
    expect(targets.map((t) => t.key)).toEqual(["direct", "bare", "alloy-openai", "alloy-anthropic", "alloy-bedrock", "direct-embeddings", "alloy-embeddings"]);
    expect(targets.find((t) => t.key === "alloy-embeddings")).toMatchObject({ url: "http://127.0.0.1:3/v1/embeddings", baseline: "direct-embeddings" });
    expect(JSON.parse(targets.find((t) => t.key === "alloy-embeddings")!.json)).toMatchObject({ model: "bench-openai/text-embedding-bench", dimensions: 256 });
    expect(targets.find((t) => t.key === "alloy-bedrock")!.skipped).toBe("not registered");
    expect(targets.find((t) => t.key === "alloy-openai")!.skipped).toBeUndefined();
    expect(JSON.parse(targets.find((t) => t.key === "alloy-anthropic")!.stream!)).toMatchObject({ model: "bench-anthropic/claude-bench", stream: true });
  });
});
