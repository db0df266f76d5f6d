// Per gateway key policy: requests per minute, concurrent requests and the models a key may use. Keys are known here
// only by their label; the secret never enters this module. No HTTP: the caller turns a refusal into a response.

export interface KeyRule {
  /** The key's name from config: safe for logs and metrics. */
  label: string;
  /** A stable name for what the key owns (stored responses): its store id for virtual keys; absent for config keys. */
  id?: string;
  rpm?: number;
  maxConcurrent?: number;
  /** Aliases or `provider/model` ids (a trailing `*` matches a prefix); absent means every model. */
  models?: string[];
  /** MCP servers the key may use; absent means every server. */
  mcpServers?: string[];
  /** MCP tools (namespaced names, a trailing `*` matches a prefix) the key may use; absent means every tool. */
  mcpTools?: string[];
}

export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; limit: "rpm" | "concurrency"; retryAfterMs: number };

const MINUTE = 60_000;
/** A concurrency slot frees when some request ends, which we cannot predict: ask the client to come back soon. */
const CONCURRENCY_RETRY_MS = 1000;

interface KeyState {
  /** Arrival times of the last `rpm` admitted requests, as a ring: the oldest sits at `next`. */
  times: Float64Array | undefined;
  next: number;
  active: number;
}

export class KeyLimits {
  private readonly state = new Map<string, KeyState>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Admit one request for this key or say which limit refuses it. A sliding window of exactly `rpm` requests in any
   * 60 s, so a burst cannot double up across a minute boundary. Refused requests consume nothing.
   */
  admit(rule: KeyRule): Admission {
    let s = this.state.get(rule.label);
    if (!s) {
      s = { times: rule.rpm ? new Float64Array(rule.rpm).fill(-Infinity) : undefined, next: 0, active: 0 };
      this.state.set(rule.label, s);
    }
    if (rule.maxConcurrent !== undefined && s.active >= rule.maxConcurrent)
      return { ok: false, limit: "concurrency", retryAfterMs: CONCURRENCY_RETRY_MS };
    const now = this.now();
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

  /** Requests of this key in flight now (for tests and metrics). */
  inFlight(label: string): number {
    return this.state.get(label)?.active ?? 0;
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
