// file + environment + flags → one validated Config. Any problem is one line naming the file, the key path and what
// was expected, so operators can fix it without reading code.
import { Type as T, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { readFile, readlink } from "node:fs/promises";
import { parse as parseToml } from "smol-toml";
import type { ProviderModule } from "../providers/provider.ts";
import { withDefaults } from "./defaults.ts";
import {
  CommonProviderKeys,
  ConfigFile,
  GovernanceConfig,
  McpConfig,
  ObservabilityConfig,
  ServerConfig,
  StoreConfig,
  type Config,
  type ProviderConfig,
} from "./schema.ts";
import { own } from "../util/own.ts";
import { resolveTracing, TracingConfigError } from "./tracing.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface Flags {
  port?: string | number;
  config?: string;
  logLevel?: string;
  jsonLogs?: boolean;
  metrics?: boolean;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ["silent", "fatal", "error", "warn", "info", "debug", "trace"];

/** `/providers/openai/timeout_secs` → `providers.openai.timeout_secs`, `/targets/1` → `targets[1]`. */
function keyPath(prefix: string, pointer: string): string {
  let out = prefix;
  for (const seg of pointer.split("/").slice(1)) {
    const s = seg.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(s) ? `[${s}]` : out ? `.${s}` : s;
  }
  return out || "(top level)";
}

function check<S extends TSchema>(file: string, prefix: string, schema: S, value: unknown): any {
  const v = withDefaults(schema, structuredClone(value ?? {}));
  // Errors() walks the whole value through generators; a valid config (the usual case) only needs Check().
  const first = Value.Check(schema, v) ? undefined : Value.Errors(schema, v).First();
  if (!first) return v;
  const where = keyPath(prefix, first.path);
  if (first.message.startsWith("Unexpected property")) throw new ConfigError(`${file}: ${where}: unknown key`);
  const got = first.value === undefined ? "nothing" : JSON.stringify(first.value);
  throw new ConfigError(`${file}: ${where}: ${first.message.replace(/^Expected/, "expected")}, got ${got}`);
}

/** Why a config path cannot be read, in words (a directory, a dangling symlink, permissions). */
async function unreadable(path: string, e: NodeJS.ErrnoException, named: boolean): Promise<string | undefined> {
  if (e.code === "ENOENT" || e.code === "ENOTDIR") {
    const link = await readlink(path).catch(() => undefined);
    if (link !== undefined) return `broken symlink (points to ${link}, which does not exist)`;
    return named ? "config file not found" : undefined;
  }
  if (e.code === "EISDIR") return "is a directory, not a config file";
  if (e.code === "EACCES" || e.code === "EPERM") return "cannot be read: permission denied";
  if (e.code === "ELOOP") return "cannot be read: too many levels of symbolic links";
  return `cannot be read: ${e.code ?? e.message}`;
}

/** 1-based line of the first byte sequence that is not UTF-8 (TOML files must be UTF-8). */
function badUtf8Line(bytes: Uint8Array): number | undefined {
  const strict = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    try {
      strict.decode(bytes.subarray(start, end));
    } catch {
      return line;
    }
    start = end + 1;
  }
  return undefined;
}

async function readToml(path: string, named: boolean): Promise<Record<string, unknown> | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const why = await unreadable(path, e as NodeJS.ErrnoException, named);
    if (why) throw new ConfigError(`${path}: ${why}`);
    return null;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`${path}: invalid TOML: line ${badUtf8Line(bytes) ?? "?"} is not valid UTF-8`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    throw new ConfigError(`${path}: invalid TOML: ${msg}`);
  }
  const bad = nonFinite(doc, "");
  if (bad) throw new ConfigError(`${path}: ${bad.path}: inf and nan are not allowed, got ${bad.value}`);
  return doc;
}

/** The first `inf`/`nan` anywhere in the document: no setting takes them, and the schema would only say "null". */
function nonFinite(value: unknown, path: string): { path: string; value: string } | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path, value: String(value).replace("Infinity", "inf").replace("NaN", "nan") };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const r = nonFinite(value[i], `${path}[${i}]`);
      if (r) return r;
    }
  } else if (value && typeof value === "object" && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) {
      const r = nonFinite(v, path ? `${path}.${k}` : k);
      if (r) return r;
    }
  }
  return undefined;
}

export type ProviderModules = Record<string, ProviderModule>;

function loadProviders(file: string, raw: Record<string, Record<string, unknown>>, env: Env, providerModules: ProviderModules) {
  const providers: Record<string, ProviderConfig> = {};
  const inactive: Record<string, string> = {};
  const entries = { ...raw };
  // Providers that exist from the environment alone (OPENAI_API_KEY, …), when the file does not name them.
  for (const m of Object.values(providerModules)) if (m.envKey && !entries[m.type] && env[m.envKey]) entries[m.type] = {};
  for (const [name, entry] of Object.entries(entries)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new ConfigError(`${file}: providers.${name}: provider names may use letters, digits, '_', '-', '.'`);
    const type = (entry.type as string | undefined) ?? (own(providerModules, name) ? name : undefined);
    const mod = type ? own(providerModules, type) : undefined;
    if (!mod) {
      const known = Object.keys(providerModules).join(", ");
      throw new ConfigError(
        type
          ? `${file}: providers.${name}.type: expected one of ${known}, got ${JSON.stringify(type)}`
          : `${file}: providers.${name}.type: expected one of ${known} (required when the name is not a provider type)`,
      );
    }
    const schema = T.Object({ ...CommonProviderKeys, ...mod.options }, { additionalProperties: false });
    const cfg = check(file, `providers.${name}`, schema, entry) as ProviderConfig;
    cfg.type = type!;
    const r = mod.resolve(name, cfg, { env });
    if (r.inactive) inactive[name] = r.inactive;
    else providers[name] = r.cfg;
  }
  return { providers, inactive };
}

/** Gateway keys: labels fit logs and metrics, each secret names one key, and /metrics is not locked for good. */
function checkGatewayKeys(file: string, s: Config["server"]) {
  const seen = new Set<string>(s.api_keys ?? []);
  for (const [label, k] of Object.entries(s.keys ?? {})) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(label))
      throw new ConfigError(`${file}: server.keys.${label}: labels may use letters, digits, '_', '-', '.' (at most 64)`);
    if (seen.has(k.key)) throw new ConfigError(`${file}: server.keys.${label}.key: this key is already configured elsewhere`);
    seen.add(k.key);
  }
  if (s.admin_key && seen.has(s.admin_key)) throw new ConfigError(`${file}: server.admin_key: the admin key must differ from every gateway key`);
  if (s.metrics_require_key && !seen.size && !s.metrics_api_key)
    throw new ConfigError(`${file}: server.metrics_require_key: needs server.api_keys, server.keys or server.metrics_api_key`);
}

function crossCheck(file: string, c: Config) {
  checkGatewayKeys(file, c.server);
  // Bun takes only ASCII host names (an IDN must be written in punycode) and would throw a TypeError at listen.
  if (!/^[\x21-\x7e]*$/.test(c.server.host))
    throw new ConfigError(`${file}: server.host: expected a host name or IP address in ASCII (punycode for international names), got ${JSON.stringify(c.server.host)}`);
  const known = (p: string) => p in c.providers || p in c.inactive;
  for (const [alias, m] of Object.entries(c.models)) {
    m.targets.forEach((t, i) => {
      const list = Array.isArray(t) ? t : [t];
      list.forEach((d, j) => {
        const target = typeof d === "string" ? d : d.target;
        const where = Array.isArray(t) ? `models.${alias}.targets[${i}][${j}]` : `models.${alias}.targets[${i}]`;
        const slash = target.indexOf("/");
        if (slash <= 0 || slash === target.length - 1)
          throw new ConfigError(`${file}: ${where}: expected "provider/model", got ${JSON.stringify(target)}`);
        if (!known(target.slice(0, slash)))
          throw new ConfigError(`${file}: ${where}: unknown provider ${JSON.stringify(target.slice(0, slash))}`);
      });
    });
    for (const s of m.mcp_servers ?? [])
      if (!(s in c.mcp.servers)) throw new ConfigError(`${file}: models.${alias}.mcp_servers: unknown MCP server ${JSON.stringify(s)}`);
  }
  for (const [label, k] of Object.entries(c.server.keys ?? {}))
    for (const s of k.mcp_servers ?? [])
      if (!(s in c.mcp.servers)) throw new ConfigError(`${file}: server.keys.${label}.mcp_servers: unknown MCP server ${JSON.stringify(s)}`);
  c.governance.fallback_order.forEach((p, i) => {
    if (!known(p)) throw new ConfigError(`${file}: governance.fallback_order[${i}]: unknown provider ${JSON.stringify(p)}`);
  });
  for (const [name, s] of Object.entries(c.mcp.servers)) {
    if (s.transport === "stdio" && !s.command)
      throw new ConfigError(`${file}: mcp.servers.${name}.command: expected a string for a stdio server, got nothing`);
    if (s.transport !== "stdio" && !s.url)
      throw new ConfigError(`${file}: mcp.servers.${name}.url: expected a URL for a ${s.transport} server, got nothing`);
  }
}

/**
 * The environment with empty variables left out: `OPENAI_API_KEY=""` (or `ALLOY_PORT=`) means unset, for every variable
 * and every provider alike, so an empty value never overrides the file nor disables a key set there.
 */
function setVariables(env: Env): Env {
  const out: Env = {};
  for (const k in env) if (env[k] !== undefined && env[k] !== "") out[k] = env[k];
  return out;
}

/** `modules`: the provider types there are (src/providers/registry.ts); passed in so config knows no provider. */
export async function loadConfig(flags: Flags, rawEnv: Env, modules: ProviderModules): Promise<Config> {
  const env = setVariables(rawEnv);
  const named = flags.config ?? env.ALLOY_CONFIG;
  const path = named ?? "config.toml";
  const parsed = await readToml(path, named !== undefined);
  const raw = parsed ?? {};
  const file = path;
  check(file, "", T.Object(Object.fromEntries(Object.keys(ConfigFile.properties).map((k) => [k, T.Optional(T.Unknown())])), { additionalProperties: false }), raw);

  const server = check(file, "server", ServerConfig, raw.server);
  const governance = check(file, "governance", GovernanceConfig, raw.governance);
  const mcp = check(file, "mcp", McpConfig, raw.mcp);
  const store = check(file, "store", StoreConfig, raw.store);
  const pricing = check(file, "pricing", ConfigFile.properties.pricing, raw.pricing ?? {});
  for (const name of Object.keys(pricing)) {
    const slash = name.indexOf("/");
    if (slash <= 0 || slash === name.length - 1) throw new ConfigError(`${file}: pricing.${name}: expected "provider/model", got ${JSON.stringify(name)}`);
  }
  if (env.ALLOY_STORE_URL) store.url = env.ALLOY_STORE_URL;
  if (env.ALLOY_REDIS_URL) store.redis_url = env.ALLOY_REDIS_URL;
  const observability = check(file, "observability", ObservabilityConfig, raw.observability);
  const models = check(file, "models", ConfigFile.properties.models, raw.models ?? {});
  const rawProviders = check(file, "providers", ConfigFile.properties.providers, raw.providers ?? {});
  const { providers, inactive } = loadProviders(file, rawProviders, env, modules);

  const portSrc = flags.port ?? env.ALLOY_PORT;
  if (portSrc !== undefined) {
    const port = Number(portSrc);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ConfigError(`${flags.port !== undefined ? "--port" : "ALLOY_PORT"}: expected a port number 0-65535, got ${JSON.stringify(String(portSrc))}`);
    server.port = port;
  }
  const level = flags.logLevel ?? env.ALLOY_LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(level))
    throw new ConfigError(`${flags.logLevel !== undefined ? "--log-level" : "ALLOY_LOG_LEVEL"}: expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
  if (env.ALLOY_ADMIN_KEY) server.admin_key = env.ALLOY_ADMIN_KEY;
  if (env.ALLOY_API_KEYS) server.api_keys = env.ALLOY_API_KEYS.split(",").map((k) => k.trim()).filter(Boolean);

  const config: Config = {
    file: parsed ? file : null,
    server,
    providers,
    inactive,
    governance,
    models,
    mcp,
    store,
    pricing,
    log: { level, json: flags.jsonLogs ?? false },
    metrics: flags.metrics ?? true,
  };
  try {
    const tracing = resolveTracing(file, observability.tracing, env);
    if (tracing) config.tracing = tracing;
  } catch (e) {
    throw e instanceof TracingConfigError ? new ConfigError(e.message) : e;
  }
  crossCheck(file, config);
  return config;
}
