// Shared key limits and budgets for many replicas, in Redis (`[store] redis_url`), behind the same interfaces as the
// in-process ones (KeyCounters, BudgetLedger). A limited request costs one round trip before it starts: one Lua
// script checks and takes budget, concurrency, tpm and rpm atomically on Redis's clock, so N replicas enforce one
// key's limits exactly. What a request leaves behind when it ends (its concurrency slot, its tokens, its cost) goes in
// one pipelined batch, not awaited by anyone. Loaded by a dynamic import, only when redis_url is set.
//
// Redis unreachable: `on_error = "open"` serves on the in-process counters (each replica counts its own) and probes
// Redis every second until it answers again; "closed" refuses requests that need a shared counter with 503.
import { RedisClient } from "bun";
import { AlloyError } from "../errors.ts";
import { Budgets, periodEnd, type BudgetLedger } from "./budgets.ts";
import { keyId, KeyLimits, type Admission, type KeyCounters, type KeyRule, type Remaining } from "./keylimits.ts";
import type { BudgetPeriod } from "../store/schema.ts";

const MINUTE = 60_000;
const CONCURRENCY_RETRY_MS = 1000;
/** A replica that dies holding slots frees them after this lease (longer than any request may run). */
const DEFAULT_LEASE_MS = 15 * 60_000;
/** How long one command may take before Redis counts as unreachable. */
const COMMAND_TIMEOUT_MS = 1000;
const PROBE_MS = 1000;
const WARN_EVERY_MS = 60_000;

// KEYS: 1 rpm zset, 2 tpm zset (members "seq:tokens"), 3 tpm sum, 4 concurrency leases zset, 5 budget spend
// ARGV: 1 rpm, 2 tpm, 3 max concurrent, 4 budget ("" = none), 5 request member, 6 lease ms
// → {code, retryAfterMs, remainingRequests (-1 = none), remainingTokens (-1 = none)}; code 0 ok, 1 rpm, 2 tpm,
//   3 concurrency, 4 budget spent, 5 budget not in Redis yet (the caller seeds it from the store and asks again)
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, conc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if ARGV[4] ~= '' then
  local spent = redis.call('GET', KEYS[5])
  if not spent then return {5, 0, -1, -1} end
  if tonumber(spent) >= tonumber(ARGV[4]) then return {4, 0, -1, -1} end
end
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  if redis.call('ZCARD', KEYS[4]) >= conc then return {3, ${CONCURRENCY_RETRY_MS}, -1, -1} end
end
local leftTokens = -1
if tpm > 0 then
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ${MINUTE})
  if #old > 0 then
    local gone = 0
    for _, m in ipairs(old) do gone = gone + tonumber(string.match(m, ':(%d+)$')) end
    redis.call('DECRBY', KEYS[3], gone)
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ${MINUTE})
  end
  local used = tonumber(redis.call('GET', KEYS[3]) or '0')
  if used >= tpm then
    local all = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    local left, i = used, 1
    while i < #all - 1 and left - tonumber(string.match(all[i], ':(%d+)$')) >= tpm do
      left = left - tonumber(string.match(all[i], ':(%d+)$'))
      i = i + 2
    end
    local at = tonumber(all[i + 1] or now)
    return {2, math.max(1, at + ${MINUTE} - now), -1, 0}
  end
  leftTokens = tpm - used
end
local leftRequests = -1
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ${MINUTE})
  local n = redis.call('ZCARD', KEYS[1])
  if n >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {1, math.max(1, tonumber(oldest[2]) + ${MINUTE} - now), 0, leftTokens}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ${MINUTE})
  leftRequests = rpm - n - 1
end
if conc > 0 then
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[6]), ARGV[5])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
return {0, 0, leftRequests, leftTokens}
`;

// KEYS: 1 tpm zset, 2 tpm sum; ARGV: 1 member ("seq:tokens"), 2 tokens
const ADD_TOKENS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ${MINUTE * 2})
redis.call('PEXPIRE', KEYS[2], ${MINUTE * 2})
return 1
`;

export interface SharedOptions {
  url: string;
  /** "open": serve on local counters while Redis is away; "closed": 503 for requests that need a shared counter. */
  onError: "open" | "closed";
  /** A key's spend in its current period from the store, for a budget Redis does not hold (first use, lost data). */
  spendOf: (id: string, period: BudgetPeriod, at: number) => Promise<number>;
  /** Each failure (for alloy_store_errors_total). */
  countError?: () => void;
  /** A line for the operator: at most once a minute while Redis stays away, and once when it is back. */
  warn?: (message: string) => void;
  /** Concurrency leases: a replica that dies holding slots frees them after this long (default 15 min). */
  leaseMs?: number;
  prefix?: string;
  now?: () => number;
}

const KEEP = () => {};

/** The budget's Redis key: per key id, period and the period's start, so a new period starts from nothing. */
function budgetPeriodTag(period: BudgetPeriod, at: number): string {
  if (period === "total") return "total";
  const end = periodEnd(period, at);
  return `${period}:${end}`;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class SharedCounters implements KeyCounters, BudgetLedger {
  readonly checksBudget = true;
  private readonly redis: RedisClient;
  private readonly local: KeyLimits;
  private readonly localBudgets: Budgets;
  private readonly prefix: string;
  private readonly replica = crypto.randomUUID().slice(0, 8);
  private seq = 0;
  private admitSha: string | undefined;
  private addSha: string | undefined;
  private healthy = true;
  private lastWarn = -Infinity;
  private probing: ReturnType<typeof setInterval> | undefined;
  private readonly remainingOf = new Map<string, Remaining>();
  private readonly now: () => number;
  private closed = false;
  private subscriber: RedisClient | undefined;
  /** Errors seen (also counted through countError). */
  errors = 0;

  constructor(private readonly o: SharedOptions) {
    this.now = o.now ?? Date.now;
    this.prefix = o.prefix ?? "alloy:";
    this.local = new KeyLimits(this.now);
    this.localBudgets = new Budgets(this.now);
    // No offline queue: while Redis is away a command fails at once, and the request goes on without it.
    this.redis = new RedisClient(o.url, { enableOfflineQueue: false, autoReconnect: true, connectionTimeout: 2000, enableAutoPipelining: true });
    this.redis.onclose = () => {
      if (!this.closed) this.failed(new Error("connection closed"));
    };
  }

  /** Connect and load the scripts; a Redis that does not answer at startup is a degraded start (or closed), not an exit. */
  async start(): Promise<void> {
    try {
      await withTimeout(this.redis.connect(), 3000);
      await this.loadScripts();
    } catch (e) {
      this.failed(e);
    }
  }

  private async loadScripts(): Promise<void> {
    this.admitSha = await withTimeout(this.redis.send("SCRIPT", ["LOAD", ADMIT]), COMMAND_TIMEOUT_MS);
    this.addSha = await withTimeout(this.redis.send("SCRIPT", ["LOAD", ADD_TOKENS]), COMMAND_TIMEOUT_MS);
  }

  /** Whether the shared counters are in use now (false while Redis is unreachable). */
  get sharing(): boolean {
    return this.healthy;
  }

  /** For /ready: why this replica is degraded, if it is. */
  degraded(): string[] {
    return this.healthy ? [] : [`redis unreachable: key limits and budgets ${this.o.onError === "open" ? "are counted per replica" : "refuse limited keys (503)"}`];
  }

  private failed(e: unknown): void {
    this.errors++;
    this.o.countError?.();
    const was = this.healthy;
    this.healthy = false;
    const now = this.now();
    if (now - this.lastWarn >= WARN_EVERY_MS) {
      this.lastWarn = now;
      const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
      this.o.warn?.(
        `redis ${redactRedisUrl(this.o.url)}: ${why}: ${this.o.onError === "open" ? "serving on this replica's own counters" : "refusing requests that need a shared counter (503)"} until it answers`,
      );
    }
    if (was && !this.closed) this.probe();
  }

  /** Every second while Redis is away: reconnect, reload the scripts (a restarted Redis has none), then share again. */
  private probe(): void {
    if (this.probing) return;
    this.probing = setInterval(async () => {
      try {
        if (!this.redis.connected) await withTimeout(this.redis.connect(), COMMAND_TIMEOUT_MS);
        await withTimeout(this.redis.send("PING", []), COMMAND_TIMEOUT_MS);
        await this.loadScripts();
        clearInterval(this.probing);
        this.probing = undefined;
        this.healthy = true;
        this.o.warn?.(`redis ${redactRedisUrl(this.o.url)}: reachable again: key limits and budgets are shared again`);
      } catch {
        // still away
      }
    }, PROBE_MS);
    this.probing.unref?.();
  }

  private k(kind: string, id: string): string {
    return `${this.prefix}${kind}:{${id}}`;
  }

  private budgetKey(rule: KeyRule, at: number): string {
    return `${this.k("budget", keyId(rule))}:${budgetPeriodTag(rule.budgetPeriod ?? "total", at)}`;
  }

  private unavailable(): AlloyError {
    return new AlloyError("unavailable", "Shared rate limits are unavailable right now (store.on_error = \"closed\"): try again shortly", { retryAfterMs: 1000 });
  }

  admit(rule: KeyRule): Admission | Promise<Admission> {
    if (!this.healthy) return this.admitLocally(rule);
    return this.admitShared(rule, true).catch((e) => {
      if (e instanceof AlloyError) throw e;
      this.failed(e);
      return this.admitLocally(rule);
    });
  }

  private admitLocally(rule: KeyRule): Admission {
    if (this.o.onError === "closed") throw this.unavailable();
    if (!this.localBudgets.allows(rule)) return { ok: false, limit: "budget", retryAfterMs: 0 };
    if (rule.rpm === undefined && rule.tpm === undefined && rule.maxConcurrent === undefined) return { ok: true, release: KEEP };
    return this.local.admit(rule);
  }

  private async admitShared(rule: KeyRule, seedIfMissing: boolean): Promise<Admission> {
    const id = keyId(rule);
    const at = this.now();
    const member = `${this.replica}:${++this.seq}`;
    const leaseMs = this.o.leaseMs ?? DEFAULT_LEASE_MS;
    const keys = [this.k("rpm", id), this.k("tpm", id), this.k("tpmsum", id), this.k("conc", id), this.budgetKey(rule, at)];
    const args = [String(rule.rpm ?? 0), String(rule.tpm ?? 0), String(rule.maxConcurrent ?? 0), rule.budgetUsd === undefined ? "" : String(rule.budgetUsd), member, String(leaseMs)];
    let r: number[];
    try {
      try {
        r = await withTimeout(this.redis.send("EVALSHA", [this.admitSha!, "5", ...keys, ...args]), COMMAND_TIMEOUT_MS);
      } catch (e) {
        // A Redis restarted since the scripts were loaded has forgotten them.
        if (!String((e as Error)?.message).includes("NOSCRIPT")) throw e;
        await this.loadScripts();
        r = await withTimeout(this.redis.send("EVALSHA", [this.admitSha!, "5", ...keys, ...args]), COMMAND_TIMEOUT_MS);
      }
    } catch (e) {
      // Given up on (a timeout), the script may still run on Redis: take back what it would have added, or a lease
      // and an rpm entry would hold the key's limits for the whole lease time. Best effort; the lease bounds it too.
      this.redis.send("ZREM", [keys[3]!, member]).catch(() => {});
      this.redis.send("ZREM", [keys[0]!, member]).catch(() => {});
      throw e;
    }
    const [code, retryAfterMs, requests, tokens] = r.map(Number) as [number, number, number, number];
    if (code === 5) {
      if (!seedIfMissing) return { ok: false, limit: "budget", retryAfterMs: 0 };
      try {
        await this.seedShared(rule, at);
      } catch (e) {
        // The spend comes from the database: its failure is not Redis's, and must not mark Redis down.
        if (e instanceof AlloyError) throw e;
        throw new AlloyError("unavailable", "The key's spend could not be read from the store: try again shortly", { retryAfterMs: 1000, cause: e });
      }
      return this.admitShared(rule, false);
    }
    this.remainingOf.set(id, { requests: requests < 0 ? undefined : requests, tokens: tokens < 0 ? undefined : tokens });
    switch (code) {
      case 0: {
        if (rule.maxConcurrent === undefined) return { ok: true, release: KEEP };
        let released = false;
        const conc = keys[3]!;
        return {
          ok: true,
          release: () => {
            if (released) return;
            released = true;
            this.fire(this.redis.send("ZREM", [conc, member]));
          },
        };
      }
      case 1:
        return { ok: false, limit: "rpm", retryAfterMs };
      case 2:
        return { ok: false, limit: "tpm", retryAfterMs };
      case 3:
        return { ok: false, limit: "concurrency", retryAfterMs };
      default:
        return { ok: false, limit: "budget", retryAfterMs: 0 };
    }
  }

  /** A budget Redis does not hold yet: the store's spend for the period, set unless another replica was first. */
  private async seedShared(rule: KeyRule, at: number): Promise<void> {
    const period = rule.budgetPeriod ?? "total";
    const usd = await this.o.spendOf(keyId(rule), period, at);
    await this.setBudget(rule, period, usd, at);
  }

  private async setBudget(rule: KeyRule, period: BudgetPeriod, usd: number, at: number): Promise<void> {
    const key = this.budgetKey(rule, at);
    const end = periodEnd(period, at);
    const args = [key, String(usd), "NX"];
    // A day past the period's end, so a clock a little behind still finds it.
    if (Number.isFinite(end)) args.push("PXAT", String(end + 86_400_000));
    await withTimeout(this.redis.send("SET", args), COMMAND_TIMEOUT_MS);
  }

  /** Failures of fire-and-forget writes: counted, and Redis probed until it answers. */
  private fire(p: Promise<unknown>): void {
    p.catch((e) => this.failed(e));
  }

  addTokens(rule: KeyRule, tokens: number): void {
    this.local.addTokens(rule, tokens);
    if (rule.tpm === undefined || !(tokens > 0) || !this.healthy || !this.addSha) return;
    const id = keyId(rule);
    const n = Math.round(tokens);
    this.fire(this.redis.send("EVALSHA", [this.addSha, "2", this.k("tpm", id), this.k("tpmsum", id), `${this.replica}:${++this.seq}:${n}`, String(n)]));
  }

  remaining(rule: KeyRule): Remaining {
    if (!this.healthy) return this.local.remaining(rule);
    return this.remainingOf.get(keyId(rule)) ?? this.local.remaining(rule);
  }

  inFlight(id: string): number {
    return this.local.inFlight(id);
  }

  // BudgetLedger: the check is admit()'s (checksBudget); these keep the shared spend and a local copy for outages.

  allows(rule: KeyRule): boolean {
    return this.localBudgets.allows(rule);
  }

  add(rule: KeyRule, usd: number): void {
    this.localBudgets.add(rule, usd);
    if (!(usd > 0) || rule.budgetUsd === undefined || !this.healthy) return;
    const key = this.budgetKey(rule, this.now());
    // Only onto a counter that exists: a missing one is seeded from the store (which has this cost) on next use.
    this.fire(this.redis.send("EVAL", ["if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1]) end return 0", "1", key, String(usd)]));
  }

  seed(id: string, period: BudgetPeriod, usd: number, at = this.now()): void {
    this.localBudgets.seed(id, period, usd, at);
    if (this.healthy) this.fire(this.setBudget({ id, label: id, budgetPeriod: period }, period, usd, at));
  }

  spent(rule: KeyRule): number {
    return this.localBudgets.spent(rule);
  }

  /**
   * Key changes (admin writes on any replica) as they happen: `onChange` runs for each. A second connection, since a
   * subscribed one takes no other commands; Bun re-subscribes it after a reconnect. The store poll stays the backstop.
   */
  async subscribe(onChange: () => void): Promise<void> {
    this.subscriber = new RedisClient(this.o.url, { autoReconnect: true, connectionTimeout: 2000 });
    try {
      await withTimeout(this.subscriber.subscribe(`${this.prefix}keys`, () => onChange()), 3000);
    } catch (e) {
      this.failed(e);
    }
  }

  /** Tell every replica that a key changed (best effort: the poll finds it within a second anyway). */
  announce(id: string): void {
    if (this.healthy) this.fire(this.redis.send("PUBLISH", [`${this.prefix}keys`, id]));
  }

  close(): void {
    this.closed = true;
    if (this.probing) clearInterval(this.probing);
    this.redis.close();
    this.subscriber?.close();
  }
}

/** The Redis URL without its password, for logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, (m) => (m.includes(":") ? `//${m.slice(2).split(":")[0]}:***@` : m));
}
