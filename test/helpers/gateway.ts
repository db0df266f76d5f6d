// Start the real gateway for a test: in-process (fast, same code path as the binary) or as the compiled ./alloy.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "./config.ts";
import { createLogger } from "../../src/observability/log.ts";
import { start, type Running } from "../../src/server.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const BINARY = join(ROOT, "alloy");

export function writeConfig(toml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "alloy-test-"));
  const file = join(dir, "config.toml");
  writeFileSync(file, toml);
  return file;
}

/**
 * Access lines are written after the response has gone out, when the gateway's event-loop turn ends. A setImmediate of
 * our own is queued after the gateway's, so once it has run every finished request's line is in the logs.
 */
export const logsSettled = () => new Promise<void>((r) => setImmediate(r));

export interface TestGateway extends Running {
  logs: string[];
}

/** Run the gateway in this process on a free port with the given TOML; logs are captured as JSON lines. */
/**
 * Logs at debug by default (prompt and completion text included). At `info`, nothing reads a stream's chunks on their
 * way through, so same-dialect streams take the relay path (scanned, not parsed): test both.
 */
export async function startGateway(toml: string, env: Record<string, string | undefined> = {}, o: { logLevel?: string } = {}): Promise<TestGateway> {
  const file = writeConfig(toml);
  const config = await loadConfig({ config: file, port: 0 }, env);
  config.server.host = "127.0.0.1";
  // Tests never leave an alloy.db behind: the store is in memory unless the test names one.
  if (!/^\s*\[store\]/m.test(toml) && !env.ALLOY_STORE_URL) config.store.url = "sqlite://:memory:";
  const logs: string[] = [];
  const log = createLogger({ level: o.logLevel ?? "debug", json: true, write: (l) => logs.push(l) });
  const running = await start(config, { log });
  return Object.assign(running, { logs });
}

export interface BinaryGateway {
  url: string;
  port: number;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  stop(): Promise<number>;
}

/** Spawn ./alloy with args; resolves once it logs that it listens. */
export async function spawnBinary(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<BinaryGateway> {
  const proc = Bun.spawn([BINARY, "--port", "0", "--json-logs", ...args], {
    cwd: opts.cwd ?? ROOT,
    // The store in memory unless the test says otherwise: no alloy.db left in the repo.
    env: { ALLOY_STORE_URL: "sqlite://:memory:", ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  const reader = proc.stdout.getReader();
  const dec = new TextDecoder();
  let port = 0;
  while (!port) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`alloy exited before listening: ${out}${await new Response(proc.stderr).text()}`);
    out += dec.decode(value, { stream: true });
    const m = out.match(/"port":(\d+)/);
    if (m) port = Number(m[1]);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out += dec.decode(value, { stream: true });
    }
  })();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    output: () => out,
    async stop() {
      proc.kill("SIGTERM");
      return await proc.exited;
    },
  };
}
