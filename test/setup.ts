// Preloaded by `bun test`: makes sure ./alloy exists and is newer than the sources, since some tests run the
// compiled binary exactly as users do.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bin = join(root, "alloy");

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const stale = !existsSync(bin) || statSync(bin).mtimeMs < Math.max(newestSource(join(root, "src")), statSync(join(root, "bun.lock")).mtimeMs);
if (stale) {
  const r = Bun.spawnSync(["bun", "run", "build"], { cwd: root, stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bun run build failed:\n${r.stderr.toString()}`);
}
