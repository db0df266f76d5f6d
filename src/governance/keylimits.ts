// Per gateway key policy: requests and tokens per minute, concurrent requests and the models a key may use. Keys are
// known here only by their id and label; the secret never enters this module. No HTTP: the caller turns a refusal
// into a response. The counters sit behind `KeyCounters` so a shared (Redis) implementation can replace these
// in-process ones for many replicas.
import type { BudgetPeriod } from "../store/schema.ts";

export interface KeyRule {
  /** The key's name: safe for logs and errors. */
  label: string;
  /**
   * A virtual key's store id: stable and unique, so counters, spend and what the key owns (stored responses) go by
   * it. Absent for config keys, which go by their label (keyId).
   */
  id?: string;
  rpm?: number;
  /** Prompt + completion tokens in any sliding 60 s window (counted when a request ends, from its usage). */
  tpm?: number;
  maxConcurrent?: number;
  /** Aliases or `provider/model` ids (a trailing `*` matches a prefix); absent means every model. */
  models?: string[];
  /** USD per budget period (absent period: "total", never resets). */
  budgetUsd?: number;
  budgetPeriod?: BudgetPeriod;
  /** Epoch ms after which the key is refused. */
  expiresAt?: number;
  /** The admin key (only the admin API accepts it). */
  admin?: boolean;
  /** MCP servers the key may use; absent means every server. */
  mcpServers?: string[];
  /** MCP tools (namespaced names, a trailing `*` matches a prefix) the key may use; absent means every tool. */
  mcpTools?: string[];
}

export const keyId = (rule: KeyRule): string => rule.id ?? rule.label;

export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; limit: "rpm" | "tpm" | "concurrency" | "budget"; retryAfterMs: number };

/** What is left of a key's rpm and tpm now (for the x-ratelimit-* headers); undefined where there is no limit. */
export interface Remaining {
  requests: number | undefined;
  tokens: number | undefined;
}

/** The per-key counters: in-process here (KeyLimits), shared across replicas in Redis (governance/redis.ts). */
export interface KeyCounters {
  /**
   * Admit one request or say which limit refuses it; refused requests consume nothing. In-process counters answer at
   * once; shared ones after one round trip.
   */
  admit(rule: KeyRule): Admission | Promise<Admission>;
  /**
   * True when admit() also checks the key's budget (shared counters do it in the same round trip): the caller then
   * skips BudgetLedger.allows and sends keys with only a budget to admit() too.
   */
  readonly checksBudget?: boolean;
  /** Tokens a finished request used, for tpm. */
  addTokens(rule: KeyRule, tokens: number): void;
  remaining(rule: KeyRule): Remaining;
  inFlight(id: string): number;
}

const MINUTE = 60_000;
/** A concurrency slot frees when some request ends, which we cannot predict: ask the client to come back soon. */
const CONCURRENCY_RETRY_MS = 1000;

interface KeyState {
  /** Arrival times of the last `rpm` admitted requests, as a ring: the oldest sits at `next`. */
  times: Float64Array | undefined;
  next: number;
  active: number;
  /** Token use of the last minute: (time, tokens) in arrival order from `head`, their sum in `used`. */
  tokenTimes: number[];
  tokenCounts: number[];
  head: number;
  used: number;
}

export class KeyLimits implements KeyCounters {
  private readonly state = new Map<string, KeyState>();

  constructor(private readonly now: () => number = Date.now) {}

  private stateOf(rule: KeyRule): KeyState {
    const id = keyId(rule);
    let s = this.state.get(id);
    // A changed rpm (admin PATCH) gets a fresh ring of the new size; the tokens and the slots in use carry over.
    if (!s || (s.times?.length ?? 0) !== (rule.rpm ?? 0)) {
      const times = rule.rpm ? new Float64Array(rule.rpm).fill(-Infinity) : undefined;
      s = s ? { ...s, times, next: 0 } : { times, next: 0, active: 0, tokenTimes: [], tokenCounts: [], head: 0, used: 0 };
      this.state.set(id, s);
    }
    return s;
  }

  /** Drop token entries older than a minute. */
  private expire(s: KeyState, now: number): void {
    while (s.head < s.tokenTimes.length && now - s.tokenTimes[s.head]! >= MINUTE) {
      s.used -= s.tokenCounts[s.head]!;
      s.head++;
    }
    if (s.head > 64 && s.head * 2 > s.tokenTimes.length) {
      s.tokenTimes = s.tokenTimes.slice(s.head);
      s.tokenCounts = s.tokenCounts.slice(s.head);
      s.head = 0;
    }
  }

  /**
   * Admit one request for this key or say which limit refuses it. A sliding window of exactly `rpm` requests in any
   * 60 s, so a burst cannot double up across a minute boundary; tpm refuses once the last minute's tokens reach it
   * (a request's tokens are known only when it ends, so requests in flight may take a key past it).
   */
  admit(rule: KeyRule): Admission {
    const s = this.stateOf(rule);
    if (rule.maxConcurrent !== undefined && s.active >= rule.maxConcurrent)
      return { ok: false, limit: "concurrency", retryAfterMs: CONCURRENCY_RETRY_MS };
    const now = this.now();
    if (rule.tpm !== undefined) {
      this.expire(s, now);
      if (s.used >= rule.tpm) {
        // Until enough of the oldest entries leave the window to bring use below the limit.
        let left = s.used;
        let i = s.head;
        while (i < s.tokenTimes.length - 1 && left - s.tokenCounts[i]! >= rule.tpm) left -= s.tokenCounts[i++]!;
        return { ok: false, limit: "tpm", retryAfterMs: Math.max(1, s.tokenTimes[i]! + MINUTE - now) };
      }
    }
    if (s.times) {
      const oldest = s.times[s.next]!;
      if (now - oldest < MINUTE) return { ok: false, limit: "rpm", retryAfterMs: oldest + MINUTE - now };
      s.times[s.next] = now;
      s.next = (s.next + 1) % s.times.length;
    }
    s.active++;
    const state = s;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        state.active--;
      },
    };
  }

  addTokens(rule: KeyRule, tokens: number): void {
    if (rule.tpm === undefined || !(tokens > 0)) return;
    const s = this.stateOf(rule);
    s.tokenTimes.push(this.now());
    s.tokenCounts.push(tokens);
    s.used += tokens;
  }

  remaining(rule: KeyRule): Remaining {
    const s = this.stateOf(rule);
    const now = this.now();
    let requests: number | undefined;
    if (s.times) {
      // The ring is in arrival order from `next`: binary search for the first time still inside the window; the
      // entries before it are free slots.
      const times = s.times;
      const n = times.length;
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (now - times[(s.next + mid) % n]! >= MINUTE) lo = mid + 1;
        else hi = mid;
      }
      requests = lo;
    }
    let tokens: number | undefined;
    if (rule.tpm !== undefined) {
      this.expire(s, now);
      tokens = Math.max(0, rule.tpm - s.used);
    }
    return { requests, tokens };
  }

  /** Requests of this key in flight now (for tests and metrics). */
  inFlight(id: string): number {
    return this.state.get(id)?.active ?? 0;
  }
}

function matches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/**
 * Whether a key restricted to `allowed` may ask for `requested`. `resolved` is the `provider/model` a bare name routes
 * to (e.g. `gpt-4o` → `openai/gpt-4o`), so listing `openai/gpt-4o` also allows the bare name. Failover targets of an
 * allowed model are the operator's routing, not the client's choice, and are not checked.
 */
export function modelAllowed(allowed: readonly string[] | undefined, requested: string, resolved?: string): boolean {
  if (!allowed) return true;
  for (const p of allowed) if (matches(p, requested) || (resolved !== undefined && matches(p, resolved))) return true;
  return false;
}

/** Whether a key may see and use this MCP server (its prompts and resources; its tools also pass `mcpToolAllowed`). */
export function mcpServerAllowed(rule: KeyRule | undefined, server: string): boolean {
  return !rule?.mcpServers || rule.mcpServers.includes(server);
}

/** Whether a key may see and call this MCP tool (`name` namespaced as `GET /v1/mcp/tools` shows it). */
export function mcpToolAllowed(rule: KeyRule | undefined, tool: { name: string; server: string }): boolean {
  if (!mcpServerAllowed(rule, tool.server)) return false;
  if (!rule?.mcpTools) return true;
  for (const p of rule.mcpTools) if (matches(p, tool.name)) return true;
  return false;
}
