// Running from source (`bun [flags] src/main.ts`): the startup re-exec must keep Bun's own flags, or tools such as
// `bun --cpu-prof` (bench/profile.ts) silently lose them.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, writeConfig } from "../helpers/gateway.ts";

test("the re-exec keeps Bun's flags and the script, and adds the runtime settings", async () => {
  const file = writeConfig(`[providers.mock]\ntype = "mock"\n`);
  const proc = Bun.spawn(["bun", "--smol", join(ROOT, "src/main.ts"), "--config", file, "--port", "0", "--json-logs"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ALLOY_STORE_URL: "sqlite://:memory:" },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes('"port"')) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`exited: ${out}${await new Response(proc.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    const argv = readFileSync(`/proc/${proc.pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    expect(argv.slice(1, 3)).toEqual(["--smol", join(ROOT, "src/main.ts")]);
    expect(argv).toContain(file);
    const env = readFileSync(`/proc/${proc.pid}/environ`, "utf8");
    expect(env).toContain("BUN_JSC_forceRAMSize=536870912");
    expect(env).toContain("BUN_CONFIG_MAX_HTTP_REQUESTS=65535");
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
});
