// What a gateway loads before it serves its first request, read from the same bundle `bun run build` compiles. Each
// of these cost idle memory when loaded at startup: the AWS SDK ~25 MB, the MCP SDK ~25 MB, node:crypto ~2.5 MB, and the
// OpenTelemetry SDK is wanted only when tracing is configured.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

interface Output {
  imports: Array<{ path: string; kind: string }>;
  inputs: Record<string, unknown>;
  entryPoint?: string;
}

let inputs: string[] = [];
let code = "";

beforeAll(async () => {
  const outdir = mkdtempSync(join(tmpdir(), "alloy-startup-"));
  try {
    const r = await Bun.build({ entrypoints: [join(ROOT, "src/main.ts")], splitting: true, format: "esm", target: "bun", metafile: true, outdir });
    expect(r.success).toBe(true);
    const outputs = (r as unknown as { metafile: { outputs: Record<string, Output> } }).metafile.outputs;
    const main = Object.entries(outputs).find(([, o]) => o.entryPoint?.endsWith("src/main.ts"))!;
    // main.ts only sets runtime defaults and then always imports the CLI: both are startup. From there on, what the
    // chunks import statically is loaded at once; dynamic imports wait until something asks for them.
    const todo = [main[0], ...main[1].imports.map((i) => i.path)];
    const seen = new Set<string>();
    while (todo.length) {
      const out = todo.pop()!;
      if (seen.has(out)) continue;
      seen.add(out);
      const o = outputs[out]!;
      for (const i of o.imports) if (i.kind !== "dynamic-import") todo.push(i.path);
    }
    for (const out of seen) {
      inputs.push(...Object.keys(outputs[out]!.inputs));
      code += readFileSync(join(outdir, out), "utf8");
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

describe("modules loaded at startup", () => {
  test("include the gateway itself (the walk finds the startup code)", () => {
    expect(inputs.some((p) => p.endsWith("src/http/chat.ts"))).toBe(true);
    expect(inputs.some((p) => p.includes("node_modules/elysia/"))).toBe(true);
  });

  test("leave out the AWS SDK, the MCP SDK and the OpenTelemetry SDK (loaded on first use / when tracing is on)", () => {
    expect(inputs.filter((p) => /node_modules\/(@aws-sdk|@smithy|@modelcontextprotocol|@opentelemetry)\//.test(p))).toEqual([]);
    expect(inputs.some((p) => p.endsWith("src/observability/otel.ts"))).toBe(false);
  });

  test("leave out the store and its migrations (opened at startup through a dynamic import, after the listen setup is built)", () => {
    expect(inputs.filter((p) => p.includes("src/store/"))).toEqual([]);
  });

  test("leave out the Redis-backed limits (loaded only when [store] redis_url is set)", () => {
    expect(inputs.filter((p) => p.endsWith("src/governance/redis.ts"))).toEqual([]);
    expect(code).not.toContain("EVALSHA");
  });

  test("leave out node:crypto", () => {
    const builtins = new Set([...code.matchAll(/(?:from\s*|require\(\s*|import\(\s*)["']((?:node:)?[a-z_]+)["']/g)].map((m) => m[1]!.replace(/^node:/, "")));
    expect(builtins.has("fs")).toBe(true); // the log sink's writeSync: proof the scan sees builtins at all
    expect(builtins.has("crypto")).toBe(false);
  });
});
