// A throwaway PostgreSQL cluster for tests: initdb in a temp dir, a free loopback port, password auth, stopped and
// deleted after. PostgreSQL refuses to run as root, and the tests run as root on CI: then the cluster belongs to the
// `postgres` system user (the Debian `postgresql` package creates it), or to one we create.
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PgCluster {
  /** `postgres://alloy:<password>@127.0.0.1:<port>/<db>`; each call makes a fresh empty database. */
  createDatabase(name?: string): Promise<string>;
  /**
   * A fresh empty schema in one shared database, as a URL whose `search_path` selects it: ~1 ms where CREATE DATABASE
   * takes ~200 ms, for tests that need isolation but not a database of their own.
   */
  createSchema(): Promise<string>;
  readonly port: number;
  readonly password: string;
  /** Stop the server but keep its data (a database outage), then start it again on the same port. */
  down(): void;
  up(): void;
  stop(): Promise<void>;
}

/** The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin), or undefined. */
export function findPgBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")) && existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], "bin");
}

/** Run as `user` when we are root (runuser keeps the environment small and needs no password), else as ourselves. */
function run(user: string | undefined, argv: string[], what: string): void {
  const cmd = user ? ["runuser", "-u", user, "--", ...argv] : argv;
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C" } });
  if (r.exitCode !== 0) throw new Error(`${what} failed (exit ${r.exitCode}): ${r.stderr.toString().trim() || r.stdout.toString().trim()}`);
}

function userExists(name: string): boolean {
  return Bun.spawnSync(["id", "-u", name], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(Bun.spawnSync(["id", "-u", name]).stdout.toString().trim());
  const gid = Number(Bun.spawnSync(["id", "-g", name]).stdout.toString().trim());
  return { uid, gid };
}

/** The non-root account that owns the cluster when we are root. */
function clusterUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (userExists("postgres")) return "postgres";
  const name = "alloy-pg";
  if (!userExists(name)) run(undefined, ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], "useradd");
  return name;
}

/** A port nobody listens on right now (the kernel picks it); postgres may still lose a race for it, so we retry. */
function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export async function startPostgres(bin: string): Promise<PgCluster> {
  const user = clusterUser();
  const dir = mkdtempSync(join(tmpdir(), "alloy-pg-"));
  const data = join(dir, "data");
  const password = `pw-${crypto.randomUUID()}`;
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, password + "\n");
  if (user) {
    const { uid, gid } = userIds(user);
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);
  try {
    // --no-sync and fsync=off: a test cluster never needs to survive a power cut.
    run(user, [join(bin, "initdb"), "-D", data, "-U", "alloy", `--pwfile=${pwfile}`, "--auth=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"], "initdb");
    // -w waits (bounded by -t seconds) until the server accepts connections.
    const start = (p: number) =>
      run(user, [join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-w", "-t", "30", "-o",
        `-c listen_addresses=127.0.0.1 -p ${p} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`, "start"], "pg_ctl start");
    // "fast": a clean shutdown. "immediate" would lose the last commits, which synchronous_commit=off leaves unflushed.
    const stop = (mode = "fast") => run(user, [join(bin, "pg_ctl"), "-D", data, "-m", mode, "-w", "-t", "30", "stop"], "pg_ctl stop");
    let port = 0;
    let lastError: unknown;
    for (let attempt = 0; attempt < 3 && !port; attempt++) {
      const p = freePort();
      try {
        start(p);
        port = p;
      } catch (e) {
        lastError = e;
      }
    }
    if (!port) throw lastError;
    // A test run that dies before stop() must not leave a server behind.
    const onExit = () => {
      if (existsSync(join(data, "postmaster.pid"))) Bun.spawnSync(user ? ["runuser", "-u", user, "--", join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"] : [join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", onExit);
    const admin = (db: string) => new Bun.SQL({ adapter: "postgres", hostname: "127.0.0.1", port, username: "alloy", password, database: db, max: 1 });
    let n = 0;
    let shared: Promise<string> | undefined;
    const createDatabase = async (name = `t${process.pid}_${++n}_${Math.random().toString(36).slice(2, 8)}`) => {
      const sql = admin("postgres");
      try {
        await sql`CREATE DATABASE ${sql(name)}`;
      } finally {
        await sql.close();
      }
      return `postgres://alloy:${password}@127.0.0.1:${port}/${name}`;
    };
    return {
      port,
      password,
      createDatabase,
      async createSchema() {
        const db = await (shared ??= createDatabase("shared"));
        const schema = `s${++n}_${Math.random().toString(36).slice(2, 8)}`;
        const sql = new Bun.SQL(db, { max: 1 });
        try {
          await sql`CREATE SCHEMA ${sql(schema)}`;
        } finally {
          await sql.close();
        }
        return `${db}?search_path=${schema}`;
      },
      down: () => stop(),
      up: () => start(port),
      async stop() {
        process.off("exit", onExit);
        try {
          if (existsSync(join(data, "postmaster.pid"))) stop("immediate");
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    if (existsSync(join(data, "postmaster.pid"))) run(user, [join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], "pg_ctl stop");
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
