// Virtual keys on the request path: every active key from the store, by the SHA-256 of its secret, in memory. Loaded
// at startup, updated at once by this process's admin writes and every second from the store's changes (so a key
// written elsewhere arrives too); no request reads the store. Budgets are seeded here from the store's spend.
import type { BudgetLedger } from "../governance/budgets.ts";
import type { KeyRule } from "../governance/keylimits.ts";
import { periodStart, type BudgetPeriod, type KeyRecord, type SpendTotals, type Store } from "../store/store.ts";

export function ruleOf(r: KeyRecord): KeyRule {
  const rule: KeyRule = { id: r.id, label: r.label };
  if (r.models) rule.models = r.models;
  if (r.rpm !== null) rule.rpm = r.rpm;
  if (r.tpm !== null) rule.tpm = r.tpm;
  if (r.maxConcurrent !== null) rule.maxConcurrent = r.maxConcurrent;
  if (r.budgetUsd !== null) rule.budgetUsd = r.budgetUsd;
  if (r.budgetPeriod !== null) rule.budgetPeriod = r.budgetPeriod;
  if (r.expiresAt !== null) rule.expiresAt = r.expiresAt;
  return rule;
}

/** What the guard asks of the virtual keys. */
export interface KeyLookup {
  /**
   * Whether gateway keys are on because of virtual keys: some is active, or one has been since this process started
   * (revoking the last key does not open the gateway).
   */
  readonly guards: boolean;
  readonly size: number;
  /** The active key with this digest (hex), or why there is none: unknown, revoked (gone from here) or expired. */
  find(digestHex: string): KeyRule | "expired" | undefined;
  /**
   * Ask the store for digests this cache does not know (a key just created on another replica), so that the next
   * find() knows them either way. Undefined when there is nothing to ask: each digest is known, was asked for recently
   * (negative cache), or too many lookups are in flight already.
   */
  lookup?(digestsHex: string[]): Promise<void> | undefined;
}

/** Unknown digests remembered as unknown (and for how long): a flood of made-up keys costs the store nothing more. */
const NEGATIVE_MAX = 10_000;
const NEGATIVE_TTL_MS = 60_000;
/** Store lookups in flight at once; past it an unknown key is refused without one. */
const MAX_LOOKUPS = 8;

const POLL_MS = 1000;
/** Times are each writer's clock: look back a little further than the last poll. */
const POLL_OVERLAP_MS = 5000;

export class VirtualKeys implements KeyLookup {
  private readonly byDigest = new Map<string, KeyRule>();
  private readonly digestOf = new Map<string, string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastPoll = 0;
  private polling = false;
  /** Digests the store did not have (or had revoked), until when: refused without asking again. */
  private readonly unknown = new Map<string, number>();
  private lookups = 0;
  /** Lookups in flight by digest: concurrent requests with one new key share one store read. */
  private readonly asking = new Map<string, Promise<void>>();
  private seen = false;

  constructor(
    private readonly store: Store,
    private readonly budgets: BudgetLedger,
    private readonly now: () => number = Date.now,
    private readonly onError: (e: unknown) => void = () => {},
  ) {}

  get size(): number {
    return this.byDigest.size;
  }

  get guards(): boolean {
    return this.seen || this.byDigest.size > 0;
  }

  find(digestHex: string): KeyRule | "expired" | undefined {
    const rule = this.byDigest.get(digestHex);
    if (rule?.expiresAt !== undefined && this.now() >= rule.expiresAt) return "expired";
    return rule;
  }

  lookup(digestsHex: string[]): Promise<void> | undefined {
    const now = this.now();
    const waits: Promise<void>[] = [];
    for (const d of digestsHex) {
      if (this.byDigest.has(d) || (this.unknown.get(d) ?? 0) > now) continue;
      let p = this.asking.get(d);
      if (!p) {
        if (this.lookups >= MAX_LOOKUPS) continue;
        p = this.ask(d, now);
        this.asking.set(d, p);
      }
      waits.push(p);
    }
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => {});
  }

  private async ask(d: string, now: number): Promise<void> {
    this.lookups++;
    try {
      const r = await this.store.keys.byDigest(d);
      if (r && r.revokedAt === null) await this.put(r);
      else this.remember(d, now);
    } catch (e) {
      // The database is away: refuse this one for a second (known keys are still served from memory).
      this.remember(d, now, 1000);
      this.onError(e);
    } finally {
      this.lookups--;
      this.asking.delete(d);
    }
  }

  private remember(digest: string, now: number, ttl = NEGATIVE_TTL_MS): void {
    if (this.unknown.size >= NEGATIVE_MAX) {
      for (const [d, until] of this.unknown) if (until <= now) this.unknown.delete(d);
      // Still full: forget the oldest.
      if (this.unknown.size >= NEGATIVE_MAX) this.unknown.delete(this.unknown.keys().next().value!);
    }
    this.unknown.set(digest, now + ttl);
  }

  /** Every active key, and their budgets' spend, from the store; then the poll for changes starts. */
  async load(): Promise<void> {
    this.lastPoll = this.now();
    for (const r of await this.store.keys.list()) await this.put(r);
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref?.();
  }

  /**
   * Take a key as the store has it now (created, changed or revoked). A key whose budget period is new here (or
   * changed) gets its spend for the current period from the store.
   */
  async put(r: KeyRecord): Promise<void> {
    const old = this.digestOf.get(r.id);
    const before = old === undefined ? undefined : this.byDigest.get(old);
    if (r.revokedAt !== null) {
      if (old !== undefined) this.byDigest.delete(old);
      this.digestOf.delete(r.id);
      return;
    }
    this.unknown.delete(r.digest);
    this.seen = true;
    const rule = ruleOf(r);
    // The spend is read before the swap, and the swap is one step: the key is never missing from memory meanwhile,
    // and when the read fails (the database away) the key as it was stays served.
    if (rule.budgetUsd !== undefined && (before?.budgetUsd === undefined || before.budgetPeriod !== rule.budgetPeriod)) await this.seed(rule);
    if (old !== undefined && old !== r.digest) this.byDigest.delete(old);
    this.byDigest.set(r.digest, rule);
    this.digestOf.set(r.id, r.digest);
  }

  /** A key just created: nothing spent yet, no store read. */
  added(r: KeyRecord): void {
    this.unknown.delete(r.digest);
    this.seen = true;
    this.byDigest.set(r.digest, ruleOf(r));
    this.digestOf.set(r.id, r.digest);
  }

  /** A key's spend and usage in the period that `at` falls in, from the store (unwritten amounts included). */
  usage(id: string, period: BudgetPeriod, at = this.now()): Promise<SpendTotals> {
    return this.store.spend.forKey(id, periodStart(period, at));
  }

  /** A key just revoked: refused from the next request on. */
  removed(id: string): void {
    const d = this.digestOf.get(id);
    if (d !== undefined) this.byDigest.delete(d);
    this.digestOf.delete(id);
  }

  private async seed(rule: KeyRule): Promise<void> {
    const period = rule.budgetPeriod ?? "total";
    const at = this.now();
    const t = await this.store.spend.forKey(rule.id!, periodStart(period, at));
    this.budgets.seed(rule.id!, period, t.spendUsd, at);
  }

  /** Look at the store's changes now (another replica announced one), not at the next tick. */
  refresh(): void {
    void this.poll();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const since = this.lastPoll - POLL_OVERLAP_MS;
    const at = this.now();
    try {
      for (const r of await this.store.keys.changedSince(since)) await this.put(r);
      this.lastPoll = at;
    } catch (e) {
      this.onError(e);
    } finally {
      this.polling = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Config keys with a budget get their current period's spend from the store at startup. */
export async function seedConfigBudgets(store: Store, budgets: BudgetLedger, rules: KeyRule[], now = Date.now()): Promise<void> {
  for (const rule of rules) {
    if (rule.budgetUsd === undefined) continue;
    const period = rule.budgetPeriod ?? "total";
    const t = await store.spend.forKey(rule.id ?? rule.label, periodStart(period, now));
    budgets.seed(rule.id ?? rule.label, period, t.spendUsd, now);
  }
}
