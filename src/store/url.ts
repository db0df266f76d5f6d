// `[store] url` → which engine and how to reach it. Bun's SQL client parses URLs too, but it guesses (a bare name is
// a PostgreSQL host, PGDATABASE beats the URL's database), so we decide here and hand it explicit options.
import { isAbsolute, resolve } from "node:path";
import { StoreError } from "./error.ts";

export type StoreTarget =
  | { engine: "sqlite"; filename: string; name: string }
  | { engine: "postgres"; url: string; database: string; connectTimeoutSecs: number | undefined; name: string };

/** How long to wait for a PostgreSQL connection unless the URL says (`connect_timeout`): Bun's default is 30 s. */
const CONNECT_TIMEOUT_SECS = 10;

/** The URL with its password and query string (which may hold `password=`) left out: safe for logs and errors. */
export function redactStoreUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?([^?#]*)/i.exec(url);
  if (!m) return url.replace(/[?#].*$/, "");
  const user = m[2] ? m[2].slice(0, -1).split(":")[0] + "@" : "";
  return m[1] + user + m[3];
}

export function parseStoreUrl(url: string, cwd = process.cwd()): StoreTarget {
  if (/^sqlite:\/\//i.test(url)) {
    const rest = url.slice("sqlite://".length);
    if (rest === "" || rest.startsWith("?")) throw new StoreError(`store ${url}: no database file (use sqlite://alloy.db or sqlite:///abs/path.db)`);
    if (rest === ":memory:") return { engine: "sqlite", filename: ":memory:", name: "sqlite://:memory:" };
    // sqlite:///abs/path.db keeps its leading slash; anything else is relative to the working directory.
    const filename = isAbsolute(rest) ? rest : resolve(cwd, rest);
    return { engine: "sqlite", filename, name: `sqlite://${filename}` };
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const name = redactStoreUrl(url);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new StoreError(`store ${name}: not a valid URL (expected postgres://user:pass@host:port/db)`);
    }
    if (!u.hostname) throw new StoreError(`store ${name}: no host (expected postgres://user:pass@host:port/db)`);
    const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
    if (!database) throw new StoreError(`store ${name}: no database name (expected postgres://user:pass@host:port/db)`);
    const timeout = u.searchParams.has("connect_timeout") ? undefined : CONNECT_TIMEOUT_SECS;
    return { engine: "postgres", url, database, connectTimeoutSecs: timeout, name };
  }
  throw new StoreError(`store ${redactStoreUrl(url)}: unsupported URL (expected sqlite://file.db, sqlite:///abs/path.db, sqlite://:memory: or postgres://user:pass@host:port/db)`);
}
