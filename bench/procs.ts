// The processes the bench starts: spawned here, tracked, and all killed at the end, on failure and on Ctrl-C.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

type Proc = Bun.Subprocess<"ignore", "pipe", "pipe">;
/** What cleanup needs of any child, whatever its stdio. */
interface Child {
  kill(signal?: NodeJS.Signals): void;
  readonly exitCode: number | null;
  readonly exited: Promise<number>;
}

const running = new Set<Child>();
let interrupted = false;

/** Track a short-lived child (a load tool run) so Ctrl-C also ends it; it is forgotten once it exits. */
export function track<C extends Child>(child: C): C {
  running.add(child);
  child.exited.then(() => running.delete(child));
  return child;
}

/** True once a signal started the shutdown: main's own failure (its children vanished) is then no news. */
export const wasInterrupted = () => interrupted;

/** Kill everything we started: SIGTERM, then SIGKILL for whatever is still alive after `graceMs`. */
export async function stopAll(graceMs = 3000): Promise<void> {
  const procs = [...running];
  for (const p of procs) p.kill("SIGTERM");
  const timer = setTimeout(() => procs.forEach((p) => p.exitCode === null && p.kill("SIGKILL")), graceMs);
  await Promise.all(procs.map((p) => p.exited));
  clearTimeout(timer);
  running.clear();
}

const tempDirs = new Set<string>();
/** A temp dir of ours, removed when the harness exits (however it exits, short of SIGKILL). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Last-resort cleanup for paths where no await is possible (process exit, fatal signals). */
function killNow() {
  for (const p of running) if (p.exitCode === null) p.kill("SIGKILL");
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}

let installed = false;
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killNow);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(sig, () => {
      interrupted = true;
      process.stderr.write(`\nbench: ${sig}, stopping everything it started\n`);
      stopAll(1000).finally(() => process.exit(130));
    });
}

export interface Started {
  proc: Proc;
  port: number;
  /** Everything the process wrote so far (for error messages). */
  output(): string;
}

function collect(proc: Proc, onText: (all: string) => void): () => string {
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const b of s) {
      out += dec.decode(b, { stream: true });
      // Keep the tail only: a chatty process must not grow our memory.
      if (out.length > 64_000) out = out.slice(-32_000);
      onText(out);
    }
  };
  pump(proc.stdout).catch(() => {});
  pump(proc.stderr).catch(() => {});
  return () => out;
}

/** Spawn a bench helper (upstream, bare proxy) and wait for its "LISTENING <port>" line. */
export function spawnHelper(cmd: string[], env: Record<string, string>, timeoutMs = 15_000): Promise<Started> {
  const proc: Proc = Bun.spawn(cmd, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd.join(" ")} did not start in ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    const output = collect(proc, (all) => {
      const m = all.match(/LISTENING (\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), output });
      }
    });
    proc.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd.join(" ")} exited with ${code}:\n${output()}`));
    });
  });
}

/** A port nobody listens on right now (tiny race until the target binds it; fine on a bench machine). */
export function freePort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Spawn a server that has no ready line of its own (Alloy at --log-level warn) and poll `healthUrl` until 200. */
export async function spawnServer(cmd: string[], env: Record<string, string>, port: number, timeoutMs = 20_000): Promise<Started> {
  const proc: Proc = Bun.spawn(cmd, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  const output = collect(proc, () => {});
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${cmd.join(" ")} exited with ${proc.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      await res.arrayBuffer();
      if (res.ok) return { proc, port, output };
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  throw new Error(`${cmd.join(" ")} did not answer /health in ${timeoutMs} ms:\n${output()}`);
}

export interface Mem {
  /** Resident set now, bytes. */
  rss: number;
  /** Peak resident set since start (VmHWM), bytes. */
  hwm: number;
  /**
   * The resident set split (RssAnon, RssFile), bytes: the process's own memory, and pages of files it maps (for a
   * compiled binary, mostly the runtime's code, shared and reclaimable). Absent on kernels that do not report it.
   */
  anon?: number;
  file?: number;
}

export function parseProcStatus(text: string): Mem {
  const kb = (key: string, required = true) => {
    const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    if (!m) {
      if (required) throw new Error(`/proc status has no ${key}`);
      return undefined;
    }
    return Number(m[1]) * 1024;
  };
  return { rss: kb("VmRSS")!, hwm: kb("VmHWM")!, anon: kb("RssAnon", false), file: kb("RssFile", false) };
}

export function readMem(pid: number): Mem {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, "utf8"));
}

const TICKS_PER_SEC = 100; // USER_HZ on Linux

/** utime + stime of a process (every thread) from its /proc/<pid>/stat line, in microseconds. */
export function cpuMicros(statLine: string): number {
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const rest = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1_000_000) / TICKS_PER_SEC;
}

export const readCpu = (pid: number) => cpuMicros(readFileSync(`/proc/${pid}/stat`, "utf8"));
