import { describe, expect, test } from "bun:test";
import { isValidFunctionName, namespacedToolName } from "../../src/mcp/names.ts";

describe("namespacedToolName", () => {
  test("plain names become server__tool unchanged", () => {
    expect(namespacedToolName("fs", "read_file")).toBe("fs__read_file");
    expect(namespacedToolName("my-server", "get-it")).toBe("my-server__get-it");
  });

  test("invalid characters are replaced and a hash keeps distinct originals distinct", () => {
    const dotted = namespacedToolName("gh", "issues.create");
    const underscored = namespacedToolName("gh", "issues_create");
    expect(isValidFunctionName(dotted)).toBe(true);
    expect(dotted).toStartWith("gh__issues_create_");
    expect(dotted).not.toBe(underscored);
    expect(isValidFunctionName(namespacedToolName("my server", "what? ünïcode/tool"))).toBe(true);
  });

  test("long names are truncated to 64 with a hash, deterministically and without collisions", () => {
    const a = namespacedToolName("filesystem", `${"x".repeat(80)}_a`);
    const b = namespacedToolName("filesystem", `${"x".repeat(80)}_b`);
    expect(a.length).toBe(64);
    expect(b.length).toBe(64);
    expect(a).not.toBe(b);
    expect(isValidFunctionName(a)).toBe(true);
    expect(namespacedToolName("filesystem", `${"x".repeat(80)}_a`)).toBe(a);
    expect(a).toStartWith("filesystem__xxxx");
  });

  test("a name of exactly 64 valid characters is kept", () => {
    const tool = "t".repeat(64 - "s__".length);
    expect(namespacedToolName("s", tool)).toBe(`s__${tool}`);
  });
});
