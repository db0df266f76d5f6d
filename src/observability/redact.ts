// Secrets never reach a log line. Two nets: fields whose *name* says secret are blanked while serialising, and every
// finished line is scrubbed of the secret *values* the gateway knows (collected from config and the environment at
// startup) and of credential-shaped strings (Bearer tokens, sk-… keys, AWS access key ids).
import type { Config } from "../config/schema.ts";

export const REDACTED = "[REDACTED]";

/** Field names that hold credentials: headers, config keys, AWS credential parts. `*_tokens` (usage) is not one. */
const SECRET_NAME =
  /^(?:authorization|proxy-authorization|cookie|set-cookie|x-amz-security-token|token|access_token|refresh_token|id_token|session_token|bearer|credentials?|access_key_id|aws_access_key_id|aws_session_token)$|api[-_]?keys?|secret|password|passwd/i;

const nameCache = new Map<string, boolean>();
export function isSecretName(key: string): boolean {
  let hit = nameCache.get(key);
  if (hit === undefined) {
    hit = SECRET_NAME.test(key);
    // Field names come from our own code, so this stays small; the cap guards against surprises.
    if (nameCache.size < 4096) nameCache.set(key, hit);
  }
  return hit;
}

/**
 * The value as it may be serialised: anything under a secret-looking key blanked, at any depth. Primitives come back
 * as they are, so flat fields (the access line) cost one cached name check each; a JSON.stringify replacer would
 * cost several times more on every line.
 */
export function clean(key: string, value: unknown, depth = 0): unknown {
  if (value == null) return value;
  if (key && isSecretName(key)) return REDACTED;
  if (typeof value !== "object") return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  const toJSON = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJSON === "function") return toJSON.call(value);
  if (depth >= 8) return "[…]";
  if (Array.isArray(value)) return value.map((v) => clean("", v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = clean(k, v, depth + 1);
  return out;
}

/** Credential shapes worth catching even when we never saw the value (a client's wrong key in an upstream message). */
const SHAPES = /\b([Bb]earer|[Bb]asic)\s+[A-Za-z0-9._~+/=-]{6,}|\bsk-[A-Za-z0-9_-]{16,}|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g;
/** Cheap substring checks first: most lines hold none of these, and then the regex never runs. */
const mayHoldShape = (line: string) =>
  line.includes("earer") || line.includes("asic") || line.includes("sk-") || line.includes("AKIA") || line.includes("ASIA");

export class Redactor {
  private values: string[] = [];

  /** Remember secret values; too-short ones would blank ordinary words, so they are left out. */
  add(values: Iterable<string | undefined>, minLength = 4): void {
    for (const v of values) if (v && v.length >= minLength && !this.values.includes(v)) this.values.push(v);
    // Longest first, so a key that contains another is replaced whole.
    this.values.sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.values.length;
  }

  scrub(line: string): string {
    for (const v of this.values) if (line.includes(v)) line = line.replaceAll(v, REDACTED);
    if (mayHoldShape(line)) line = line.replace(SHAPES, (_m, scheme?: string) => (scheme ? `${scheme} ${REDACTED}` : REDACTED));
    return line;
  }
}

const SECRET_ENV = /API_?KEY|TOKEN|SECRET|PASSWORD|ACCESS_KEY/i;

function bearerParts(v: string): string[] {
  const m = /^\s*(?:Bearer|Basic|Token)\s+(.+)$/i.exec(v);
  return m ? [v, m[1]!.trim()] : [v];
}

/** Every secret value the running gateway knows of: provider keys, gateway keys, MCP headers/env, AWS credentials. */
export function collectSecrets(config: Config, env: Record<string, string | undefined> = process.env): { exact: string[]; heuristic: string[] } {
  const exact: string[] = [];
  // Strings under a credential-named key, at any depth (api_keys lists, [server.keys.<label>] key, provider headers).
  const walk = (obj: unknown, secret: boolean, depth: number) => {
    if (!obj || typeof obj !== "object" || depth > 5) return;
    for (const [k, v] of Object.entries(obj)) {
      const s = secret || k === "key" || k === "admin_key" || isSecretName(k);
      if (typeof v === "string") {
        if (s) exact.push(...bearerParts(v));
      } else walk(v, s, depth + 1);
    }
  };
  walk(config.server, false, 0);
  walk(config.providers, false, 0);
  // A PostgreSQL store URL's password (logs show the URL without it, but an error message might quote it).
  for (const url of [config.store?.url, config.store?.redis_url]) {
  const storePass = /^[a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:([^@/?#]+)@/i.exec(url ?? "")?.[1];
  if (storePass) {
    exact.push(storePass);
    try {
      exact.push(decodeURIComponent(storePass));
    } catch {
      // not percent-encoded after all
    }
  }
  }
  const heuristic: string[] = [];
  for (const s of Object.values(config.mcp.servers)) {
    // Remote MCP headers are credentials more often than not; stdio env values only when their name says so.
    for (const v of Object.values(s.headers ?? {})) heuristic.push(...bearerParts(v));
    for (const [k, v] of Object.entries(s.env ?? {})) if (SECRET_ENV.test(k)) exact.push(v);
  }
  for (const [k, v] of Object.entries(env)) if (v && SECRET_ENV.test(k)) heuristic.push(...(k === "ALLOY_API_KEYS" ? v.split(",").map((x) => x.trim()) : [v]));
  return { exact, heuristic };
}

/** IPv4 literals (with a port), URLs and the host a failed DNS lookup names: internal topology, not for clients. */
const ADDRESS = /\b(?:https?|wss?):\/\/[^\s"'<>]+|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|(getaddrinfo \w+ )\S+/g;
const mayHoldAddress = (m: string) => m.includes("://") || m.includes("getaddrinfo") || /\d\.\d/.test(m);

/**
 * What client-facing error messages go through: the same secret scrub as the logs, then addresses. One per process;
 * every gateway started in it adds what it knows (tests start several).
 */
export const clientRedactor = new Redactor();
export function scrubClientMessage(message: string): string {
  message = clientRedactor.scrub(message);
  return mayHoldAddress(message) ? message.replace(ADDRESS, (_m, dns?: string) => (dns ? `${dns}[host]` : "[address]")) : message;
}

/** Host names of every configured upstream (provider base URLs, remote MCP servers): scrubbed from client messages. */
export function upstreamHosts(config: Config): string[] {
  const hosts: string[] = [];
  const add = (u: unknown) => {
    if (typeof u !== "string") return;
    try {
      const h = new URL(u).hostname;
      if (h) hosts.push(h);
    } catch {
      // not a URL: nothing to hide
    }
  };
  for (const p of Object.values(config.providers)) {
    add(p.base_url);
    add((p as { endpoint?: unknown }).endpoint);
  }
  for (const s of Object.values(config.mcp.servers)) add((s as { url?: unknown }).url);
  return hosts;
}
