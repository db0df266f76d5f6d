// Gateway keys: who may use the gateway (and its paid provider keys). Presented keys are compared in constant time,
// never logged, never echoed and never forwarded upstream; everything past this file knows a caller by its label.
import type { ServerConfig } from "../config/schema.ts";
import { errorReply as anthropicErrorReply } from "../dialects/anthropic/errors.ts";
import { replyResponse } from "./ingress.ts";
import { AlloyError } from "../errors.ts";
import { Budgets, type BudgetLedger } from "../governance/budgets.ts";
import { KeyLimits, modelAllowed, type Admission, type KeyCounters, type KeyRule } from "../governance/keylimits.ts";
import type { KeyLookup } from "../keys/virtual.ts";
import { errorResponse } from "./errors.ts";

/** A configured key: its policy and the SHA-256 of its value (the value itself is not kept). */
interface StoredKey {
  rule: KeyRule;
  digest: Uint8Array;
}

/** Paths that never need a key: liveness and readiness probes come from orchestrators without secrets. */
const OPEN_PATHS = new Set(["/", "/health", "/ready"]);

/** Bun.SHA256.hash: a fifth of a CryptoHasher's cost per call (no hasher object), and this runs on every request. */
function sha256(value: string): Uint8Array {
  return Bun.SHA256.hash(value) as Uint8Array;
}

/**
 * Two SHA-256 digests compared without an early exit. Our own rather than node:crypto's timingSafeEqual: loading
 * node:crypto costs ~2.5 MB of idle memory (it pulls in Node's stream modules) for one 32-byte comparison. The inputs
 * are digests, so even a timing difference would only tell a hash, never a key.
 */
function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Where the path starts in a request URL. Bun builds the URL from the Host header and the request target, and with a
 * Host it cannot use the URL is the bare target (`/v1/models`).
 */
function pathStart(url: string): number {
  if (url.startsWith("/")) return 0;
  const scheme = url.indexOf("://");
  if (scheme < 0) return url.length;
  const i = url.indexOf("/", scheme + 3);
  return i < 0 ? url.length : i;
}

/** The path up to `?`, not normalised: `/./v1/x` and `/health/` are not `/health`. */
export function rawPath(url: string): string {
  const start = pathStart(url);
  const q = url.indexOf("?", start);
  return url.slice(start, q < 0 ? url.length : q) || "/";
}

/** The key a client presented: `Authorization: Bearer …` (OpenAI clients) and/or `x-api-key` (Anthropic clients). */
export function presentedKeys(headers: Headers): string[] {
  const out: string[] = [];
  const auth = headers.get("authorization");
  if (auth) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) out.push(m[1]!.trim());
  }
  const x = headers.get("x-api-key")?.trim();
  if (x) out.push(x);
  return out;
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}

/** The startup warning for an open relay, or undefined when there is nothing to warn about. */
export function openRelayWarning(server: ServerConfig): string | undefined {
  if (hasGatewayKeys(server) || isLoopback(server.host)) return undefined;
  return `no gateway keys configured (server.api_keys, server.keys or ALLOY_API_KEYS) while listening on ${server.host}: anyone who can reach this port can spend your provider keys`;
}

/** The rules of the configured keys, as the guard knows them (for seeding their budgets). */
export function configKeyRules(server: ServerConfig): KeyRule[] {
  const rules: KeyRule[] = (server.api_keys ?? []).map((_, i) => ({ label: `api_keys[${i}]` }));
  for (const [label, k] of Object.entries(server.keys ?? {})) {
    const rule: KeyRule = { label, rpm: k.rpm, tpm: k.tpm, maxConcurrent: k.max_concurrent, models: k.models, mcpServers: k.mcp_servers, mcpTools: k.mcp_tools };
    if (k.budget_usd !== undefined) rule.budgetUsd = k.budget_usd;
    if (k.budget_period !== undefined) rule.budgetPeriod = k.budget_period;
    rules.push(rule);
  }
  return rules;
}

export function hasGatewayKeys(server: ServerConfig): boolean {
  return (server.api_keys?.length ?? 0) > 0 || Object.keys(server.keys ?? {}).length > 0;
}

const NOTHING = () => {};
const periodName = (rule: KeyRule) => ({ daily: "for today", weekly: "for this week", monthly: "for this month", total: "in total" })[rule.budgetPeriod ?? "total"];

function unauthorized(message: string): AlloyError {
  return new AlloyError("auth", message);
}

const NOBODY = { caller: undefined };
/** Virtual keys' secrets start so (keys/secret.ts). */
const VIRTUAL_PREFIX = "sk-alloy-";

/** identify() found a key this replica does not know yet: once the store has been asked, the request is checked again. */
class LookupNeeded {
  constructor(readonly done: Promise<void>) {}
}

function overBudget(caller: KeyRule): AlloyError {
  return new AlloyError("rate_limit", `The API key '${caller.label}' has used up its budget of $${caller.budgetUsd} ${periodName(caller)}`, {
    type: "insufficient_quota",
    code: "insufficient_quota",
  });
}

/** The release of an admitted request, or the 429 of a refused one. */
function admitted(caller: KeyRule, a: Admission): () => void {
  if (a.ok) return a.release;
  if (a.limit === "budget") throw overBudget(caller);
  const what =
    a.limit === "rpm" ? `${caller.rpm} requests per minute` : a.limit === "tpm" ? `${caller.tpm} tokens per minute` : `${caller.maxConcurrent} concurrent requests`;
  throw new AlloyError("rate_limit", `Rate limit reached for key '${caller.label}': ${what}`, { retryAfterMs: a.retryAfterMs });
}
const ADMIN: KeyRule = { label: "admin", admin: true };
const AUTH_HEADERS = { "www-authenticate": 'Bearer realm="alloy"' };

export interface AuthOptions {
  now?: () => number;
  /** Virtual keys (the store's), looked up by digest in memory. */
  virtual?: KeyLookup;
  limits?: KeyCounters;
  budgets?: BudgetLedger;
}

export class GatewayAuth {
  private readonly keys: StoredKey[] = [];
  private readonly metricsKey: Uint8Array | undefined;
  private readonly adminKey: Uint8Array | undefined;
  private readonly metricsNeedsGatewayKey: boolean;
  private readonly virtual: KeyLookup | undefined;
  /** Requests whose keys the store has been asked for once already: the second check decides from memory. */
  private readonly looked = new WeakSet<Request>();
  readonly limits: KeyCounters;
  readonly budgets: BudgetLedger;

  constructor(server: ServerConfig, opts: AuthOptions = {}) {
    const secrets = [...(server.api_keys ?? []), ...Object.values(server.keys ?? {}).map((k) => k.key)];
    configKeyRules(server).forEach((rule, i) => this.keys.push({ rule, digest: sha256(secrets[i]!) }));
    this.metricsKey = server.metrics_api_key ? sha256(server.metrics_api_key) : undefined;
    this.adminKey = server.admin_key ? sha256(server.admin_key) : undefined;
    this.metricsNeedsGatewayKey = server.metrics_require_key === true;
    this.virtual = opts.virtual;
    this.limits = opts.limits ?? new KeyLimits(opts.now);
    this.budgets = opts.budgets ?? new Budgets(opts.now);
  }

  /** Whether /v1/* needs a key: as soon as any exists, configured or virtual (checked per request: keys come and go). */
  get enabled(): boolean {
    return this.keys.length > 0 || this.virtual?.guards === true;
  }

  /** Whether the admin API is on. */
  get admin(): boolean {
    return this.adminKey !== undefined;
  }

  /**
   * Whether any request may need a key at all (gateway keys, the admin API, a protected /metrics). Decided once at
   * startup: the guard hook is not installed otherwise. Virtual keys exist only with a store that had some at startup
   * or an admin key to create them.
   */
  get guarding(): boolean {
    return this.enabled || this.admin || this.metricsKey !== undefined || this.metricsNeedsGatewayKey;
  }

  /**
   * The configured or virtual key matching one of the presented values. Every configured key is compared every time,
   * so the time taken says nothing about which key (or how much of one) matched; digests make the lengths equal.
   * Virtual keys are found by their digest in a Map: the lookup's timing depends on the digest, never on the secret.
   */
  private match(presented: string[]): KeyRule | "expired" | undefined {
    let found: KeyRule | "expired" | undefined;
    for (const value of presented) {
      const d = sha256(value);
      for (const k of this.keys) if (digestsEqual(d, k.digest) && !found) found = k.rule;
      // The same digest, as the store keeps it (hex): the value is hashed once.
      if (!found && this.virtual && this.virtual.size > 0) found = this.virtual.find(Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("hex"));
    }
    return found;
  }

  private matchesMetricsKey(presented: string[]): boolean {
    let ok = false;
    if (this.metricsKey) for (const value of presented) if (digestsEqual(sha256(value), this.metricsKey)) ok = true;
    return ok;
  }

  /** The caller behind a request, or a 401. Undefined when gateway keys are off. */
  identify(request: Request): KeyRule | undefined {
    if (!this.enabled) {
      // A virtual key made on another replica before this one has heard of any: ask the store.
      if (this.virtual?.lookup && !this.looked.has(request)) {
        const presented = presentedKeys(request.headers).filter((v) => v.startsWith(VIRTUAL_PREFIX));
        if (presented.length) this.askStore(request, presented);
      }
      return undefined;
    }
    const presented = presentedKeys(request.headers);
    if (presented.length === 0)
      throw unauthorized("Missing API key: send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header");
    const rule = this.match(presented);
    if (rule === "expired") throw unauthorized("This API key has expired");
    if (!rule) {
      if (this.virtual?.lookup && !this.looked.has(request)) this.askStore(request, presented);
      throw unauthorized("Invalid API key");
    }
    return rule;
  }

  /** Throws the store lookup to wait for, when there is one to make (check() answers the request after it). */
  private askStore(request: Request, presented: string[]): void {
    const p = this.virtual!.lookup!(presented.map((v) => Bun.SHA256.hash(v, "hex")));
    if (p) {
      this.looked.add(request);
      throw new LookupNeeded(p);
    }
  }

  /** /admin/*: the admin key and nothing else. */
  private checkAdmin(request: Request): KeyRule {
    const presented = presentedKeys(request.headers);
    if (presented.length === 0)
      throw unauthorized("Missing admin key: send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header");
    let ok = false;
    for (const value of presented) if (digestsEqual(sha256(value), this.adminKey!)) ok = true;
    if (!ok) throw unauthorized("Invalid admin key");
    return ADMIN;
  }

  private checkMetrics(request: Request): void {
    if (!this.metricsKey && !this.metricsNeedsGatewayKey) return;
    const presented = presentedKeys(request.headers);
    if (presented.length === 0)
      throw unauthorized("Missing API key: /metrics needs 'Authorization: Bearer <key>'");
    if (this.matchesMetricsKey(presented)) return;
    const m = this.metricsNeedsGatewayKey ? this.match(presented) : undefined;
    if (m && m !== "expired") return;
    throw unauthorized("Invalid API key");
  }

  /**
   * Run before routing on every request: the caller behind it, or the 401 to answer with when it needs a key it
   * lacks. Everything except the probes needs a key (unknown paths included, so they reveal nothing); /metrics has
   * its own.
   */
  check(request: Request, requestId: string): { caller: KeyRule | undefined } | { denied: Response } | { lookup: Promise<void> } {
    const url = request.url;
    const path = rawPath(url);
    // A '/' after the path (in the query, or from a Host header with '?' in it) makes the URL mean different things
    // to different parsers: such a request is never a probe, and has to pass every check that could apply.
    const ambiguous = url.indexOf("/", pathStart(url) + path.length) >= 0;
    if (!ambiguous && OPEN_PATHS.has(path)) return NOBODY;
    try {
      // Without an admin key /admin/* is an unknown path like any other (a key first, when keys are on; then 404).
      if (this.adminKey && (path === "/admin" || path.startsWith("/admin/") || (ambiguous && url.includes("/admin")))) {
        const admin = this.checkAdmin(request);
        return ambiguous ? { caller: this.identify(request) ?? admin } : { caller: admin };
      }
      const metrics = path === "/metrics" || path.startsWith("/metrics/") || (ambiguous && url.includes("/metrics"));
      if (metrics) this.checkMetrics(request);
      return !metrics || ambiguous ? { caller: this.identify(request) } : NOBODY;
    } catch (e) {
      if (e instanceof LookupNeeded) return { lookup: e.done };
      if (!(e instanceof AlloyError)) throw e;
      // Anthropic's clients read Anthropic's error shape on their routes; everyone else OpenAI's.
      const denied = path.startsWith("/v1/messages")
        ? replyResponse(anthropicErrorReply(e, requestId), requestId, e, AUTH_HEADERS)
        : errorResponse(e, requestId, AUTH_HEADERS);
      return { denied };
    }
  }

  /**
   * Take a slot under the caller's budget, rpm, tpm and concurrency limits, or throw: 429 insufficient_quota past the
   * budget (not to be retried), 429 rate_limit_exceeded with Retry-After past a rate.
   */
  admit(caller: KeyRule | undefined): (() => void) | Promise<() => void> {
    if (!caller) return NOTHING;
    if (caller.admin) throw new AlloyError("auth", "The admin key is for /admin/* only");
    const shared = this.limits.checksBudget === true;
    if (!shared && !this.budgets.allows(caller)) throw overBudget(caller);
    if (caller.rpm === undefined && caller.maxConcurrent === undefined && caller.tpm === undefined && (!shared || caller.budgetUsd === undefined))
      return NOTHING;
    const a = this.limits.admit(caller);
    return a instanceof Promise ? a.then((r) => admitted(caller, r)) : admitted(caller, a);
  }

  /**
   * OpenAI's x-ratelimit-* headers for a key with rpm or tpm (what remains after this request; `tokens` are this
   * request's own when already known), or undefined.
   */
  rateHeaders(caller: KeyRule | undefined, tokens = 0): Record<string, string> | undefined {
    if (!caller || (caller.rpm === undefined && caller.tpm === undefined)) return undefined;
    const r = this.limits.remaining(caller);
    const h: Record<string, string> = {};
    if (caller.rpm !== undefined) {
      h["x-ratelimit-limit-requests"] = String(caller.rpm);
      h["x-ratelimit-remaining-requests"] = String(r.requests ?? 0);
    }
    if (caller.tpm !== undefined) {
      h["x-ratelimit-limit-tokens"] = String(caller.tpm);
      h["x-ratelimit-remaining-tokens"] = String(Math.max(0, (r.tokens ?? 0) - tokens));
    }
    return h;
  }

  /** A 403 unless the caller may use this model (`resolved` is the `provider/model` a bare name routes to). */
  checkModel(caller: KeyRule | undefined, requested: string, resolved?: string): void {
    if (!caller || modelAllowed(caller.models, requested, resolved)) return;
    throw new AlloyError("permission", `The API key '${caller.label}' is not allowed to use the model '${requested}'`, {
      param: "model",
      code: "model_not_allowed",
    });
  }

  /** Whether the caller may see this model id in /v1/models. */
  listsModel(caller: KeyRule | undefined, id: string): boolean {
    return !caller || modelAllowed(caller.models, id);
  }
}
