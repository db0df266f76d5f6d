// A throwaway redis-server for tests: a free loopback port, no persistence (`--save "" --appendonly no`), a temp dir,
// ready once it answers PING (bounded), stopped and deleted after. `down()` / `up()` kill it and start it again on the
// same port (an outage: the data is gone, as after a real restart without persistence).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

/** redis-server on PATH or in /usr/bin, or undefined. */
export function findRedisServer(): string | undefined {
  const found = Bun.which("redis-server");
  if (found) return found;
  return existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : undefined;
}

export const REDIS_MISSING = "redis-server not found: install the Debian package `redis-server`";

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** PING over a raw socket until +PONG, within `ms`. */
async function waitForPing(port: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (v: boolean) => {
        if (!done) (done = true), resolve(v);
      };
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open(s) {
            s.write("PING\r\n");
          },
          data(s, d) {
            finish(d.toString().startsWith("+PONG"));
            s.end();
          },
          error: () => finish(false),
          connectError: () => finish(false),
          close: () => finish(false),
        },
      }).catch(() => finish(false));
      setTimeout(() => finish(false), 500);
    });
    if (ok) return true;
    await Bun.sleep(25);
  }
  return false;
}

export async function startRedis(bin: string): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "alloy-redis-"));
  let port = 0;
  let proc: Bun.Subprocess | undefined;
  const spawn = async (p: number): Promise<boolean> => {
    proc = Bun.spawn([bin, "--port", String(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    if (await waitForPing(p, 5000)) return true;
    proc.kill("SIGKILL");
    await proc.exited;
    return false;
  };
  // The port may be taken between the probe and the spawn: try a few.
  for (let i = 0; i < 5 && !port; i++) {
    const p = freePort();
    if (await spawn(p)) port = p;
  }
  if (!port) throw new Error("redis-server did not answer PING within 5 s");
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async down() {
      proc?.kill("SIGKILL");
      await proc?.exited;
    },
    async up() {
      if (!(await spawn(port))) throw new Error(`redis-server did not come back on port ${port}`);
    },
    async stop() {
      proc?.kill("SIGKILL");
      await proc?.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
