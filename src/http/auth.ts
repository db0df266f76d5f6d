// Gateway keys: who may use the gateway (and its paid provider keys). Presented keys are compared in constant time,
// never logged, never echoed and never forwarded upstream; everything past this file knows a caller by its label.
import type { ServerConfig } from "../config/schema.ts";
import { errorReply as anthropicErrorReply } from "../dialects/anthropic/errors.ts";
import { replyResponse } from "./ingress.ts";
import { AlloyError } from "../errors.ts";
import { KeyLimits, modelAllowed, type KeyRule } from "../governance/keylimits.ts";
import { errorResponse } from "./errors.ts";

/** A configured key: its policy and the SHA-256 of its value (the value itself is not kept). */
interface StoredKey {
  rule: KeyRule;
  digest: Uint8Array;
}

/** Paths that never need a key: liveness and readiness probes come from orchestrators without secrets. */
const OPEN_PATHS = new Set(["/", "/health", "/ready"]);

function sha256(value: string): Uint8Array {
  return new Bun.CryptoHasher("sha256").update(value).digest();
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

export function hasGatewayKeys(server: ServerConfig): boolean {
  return (server.api_keys?.length ?? 0) > 0 || Object.keys(server.keys ?? {}).length > 0;
}

function unauthorized(message: string): AlloyError {
  return new AlloyError("auth", message);
}

const NOBODY = { caller: undefined };
const AUTH_HEADERS = { "www-authenticate": 'Bearer realm="alloy"' };

export class GatewayAuth {
  private readonly keys: StoredKey[] = [];
  private readonly metricsKey: Uint8Array | undefined;
  private readonly metricsNeedsGatewayKey: boolean;
  readonly limits: KeyLimits;

  constructor(server: ServerConfig, opts: { now?: () => number } = {}) {
    (server.api_keys ?? []).forEach((key, i) => this.keys.push({ rule: { label: `api_keys[${i}]` }, digest: sha256(key) }));
    for (const [label, k] of Object.entries(server.keys ?? {}))
      this.keys.push({
        rule: { label, rpm: k.rpm, maxConcurrent: k.max_concurrent, models: k.models, mcpServers: k.mcp_servers, mcpTools: k.mcp_tools },
        digest: sha256(k.key),
      });
    this.metricsKey = server.metrics_api_key ? sha256(server.metrics_api_key) : undefined;
    this.metricsNeedsGatewayKey = server.metrics_require_key === true;
    this.limits = new KeyLimits(opts.now);
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** Whether any request may need a key at all (gateway keys or a protected /metrics). */
  get guarding(): boolean {
    return this.enabled || this.metricsKey !== undefined || this.metricsNeedsGatewayKey;
  }

  /**
   * The configured key matching one of the presented values. Every configured key is compared every time, so the
   * time taken says nothing about which key (or how much of one) matched; digests make the lengths equal.
   */
  private match(presented: string[]): KeyRule | undefined {
    let found: KeyRule | undefined;
    for (const value of presented) {
      const d = sha256(value);
      for (const k of this.keys) if (digestsEqual(d, k.digest) && !found) found = k.rule;
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
    if (!this.enabled) return undefined;
    const presented = presentedKeys(request.headers);
    if (presented.length === 0)
      throw unauthorized("Missing API key: send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header");
    const rule = this.match(presented);
    if (!rule) throw unauthorized("Invalid API key");
    return rule;
  }

  private checkMetrics(request: Request): void {
    if (!this.metricsKey && !this.metricsNeedsGatewayKey) return;
    const presented = presentedKeys(request.headers);
    if (presented.length === 0)
      throw unauthorized("Missing API key: /metrics needs 'Authorization: Bearer <key>'");
    if (this.matchesMetricsKey(presented)) return;
    if (this.metricsNeedsGatewayKey && this.match(presented)) return;
    throw unauthorized("Invalid API key");
  }

  /**
   * Run before routing on every request: the caller behind it, or the 401 to answer with when it needs a key it
   * lacks. Everything except the probes needs a key (unknown paths included, so they reveal nothing); /metrics has
   * its own.
   */
  check(request: Request, requestId: string): { caller: KeyRule | undefined } | { denied: Response } {
    const url = request.url;
    const path = rawPath(url);
    // A '/' after the path (in the query, or from a Host header with '?' in it) makes the URL mean different things
    // to different parsers: such a request is never a probe, and has to pass every check that could apply.
    const ambiguous = url.indexOf("/", pathStart(url) + path.length) >= 0;
    if (!ambiguous && OPEN_PATHS.has(path)) return NOBODY;
    try {
      const metrics = path === "/metrics" || path.startsWith("/metrics/") || (ambiguous && url.includes("/metrics"));
      if (metrics) this.checkMetrics(request);
      return !metrics || ambiguous ? { caller: this.identify(request) } : NOBODY;
    } catch (e) {
      if (!(e instanceof AlloyError)) throw e;
      // Anthropic's clients read Anthropic's error shape on their routes; everyone else OpenAI's.
      const denied = path.startsWith("/v1/messages")
        ? replyResponse(anthropicErrorReply(e, requestId), requestId, e, AUTH_HEADERS)
        : errorResponse(e, requestId, AUTH_HEADERS);
      return { denied };
    }
  }

  /** Take a slot under the caller's rpm and concurrency limits or throw a 429 with Retry-After. */
  admit(caller: KeyRule | undefined): () => void {
    if (!caller || (caller.rpm === undefined && caller.maxConcurrent === undefined)) return () => {};
    const a = this.limits.admit(caller);
    if (a.ok) return a.release;
    const what = a.limit === "rpm" ? `${caller.rpm} requests per minute` : `${caller.maxConcurrent} concurrent requests`;
    throw new AlloyError("rate_limit", `Rate limit reached for key '${caller.label}': ${what}`, { retryAfterMs: a.retryAfterMs });
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
