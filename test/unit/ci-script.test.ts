// What CI runs (.ci/run): the pinned Bun when missing, the locked install, then a type check before build and tests,
// under the strict settings the code is written for.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const steps = readFileSync(join(ROOT, ".ci/run"), "utf8")
  .split("\n")
  .map((l) => l.replace(/#.*/, "").trim())
  .filter(Boolean);
const at = (cmd: string) => steps.findIndex((l) => l === cmd || l.startsWith(`${cmd} `));

test("CI type-checks after installing and before building and testing", () => {
  expect(at("npm install -g \"bun@$BUN_VERSION\"")).toBeGreaterThanOrEqual(0);
  const install = at("bun install --frozen-lockfile");
  const typecheck = at("bunx tsc --noEmit");
  expect(install).toBeGreaterThanOrEqual(0);
  expect(typecheck).toBeGreaterThan(install);
  expect(at("bun run build")).toBeGreaterThan(typecheck);
  expect(at("bun test")).toBeGreaterThan(typecheck);
});

test("tsconfig.json is strict with noUncheckedIndexedAccess", () => {
  const { compilerOptions } = JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8"));
  expect(compilerOptions.strict).toBe(true);
  expect(compilerOptions.noUncheckedIndexedAccess).toBe(true);
});
