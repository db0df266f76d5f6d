// How one tool call of the model becomes the text it reads back: bad arguments and failures are text, not errors.
import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import { runToolForModel } from "../../src/mcp/governed-loop.ts";
import type { McpManager } from "../../src/mcp/servers.ts";

const call = (args: string) => ({ id: "c", type: "function" as const, function: { name: "s__t", arguments: args } });
const opts = () => ({ signal: new AbortController().signal, timeoutMs: 1000, requestId: "r" });

function manager(impl: McpManager["call"]): McpManager {
  return { call: impl } as unknown as McpManager;
}

describe("runToolForModel", () => {
  test("arguments are parsed; an empty string means no arguments", async () => {
    const seen: unknown[] = [];
    const m = manager(async (_n, args) => {
      seen.push(args);
      return { content: [{ type: "text", text: "ok" }] };
    });
    expect(await runToolForModel(m, call('{"a":1}'), opts())).toBe("ok");
    expect(await runToolForModel(m, call(""), opts())).toBe("ok");
    expect(seen).toEqual([{ a: 1 }, {}]);
  });

  test("invalid or non-object arguments are reported to the model", async () => {
    const m = manager(async () => ({ content: [] }));
    expect(await runToolForModel(m, call("{oops"), opts())).toStartWith("Tool error: the arguments are not valid JSON");
    expect(await runToolForModel(m, call("[1,2]"), opts())).toBe("Tool error: the arguments must be a JSON object");
  });

  test("a failed call becomes text; only cancellation throws", async () => {
    const m = manager(async () => {
      throw new AlloyError("timeout", "MCP tool 's__t' did not finish within 1s (mcp.tool_timeout_secs)");
    });
    expect(await runToolForModel(m, call("{}"), opts())).toBe("Tool error: MCP tool 's__t' did not finish within 1s (mcp.tool_timeout_secs)");
    const ac = new AbortController();
    ac.abort(new AlloyError("cancelled", "client closed the connection"));
    await expect(runToolForModel(m, call("{}"), { ...opts(), signal: ac.signal })).rejects.toThrow("client closed the connection");
    expect(await runToolForModel(undefined, call("{}"), opts())).toBe("Tool error: no MCP servers are configured");
  });
});
