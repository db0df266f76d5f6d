// A finished request's bill: its cost from the price table, then the key's tpm window, its budget and the spend
// aggregates (an in-memory enqueue: the store batches the write). Runs where the access record ends, so every model
// route is billed the same way. Nothing here waits or does I/O.
import type { AccessRecord } from "../observability/access.ts";
import type { Pricing } from "../pricing/pricing.ts";
import type { SpendEntry } from "../store/schema.ts";
import type { BudgetLedger } from "./budgets.ts";
import { keyId, type KeyCounters, type KeyRule } from "./keylimits.ts";

/** The spend key of traffic that presented no key (gateway keys off). */
export const ANONYMOUS = "anonymous";

export interface SpendSink {
  add(e: SpendEntry): void;
}

export class Accounting {
  constructor(
    readonly pricing: Pricing,
    readonly limits: KeyCounters,
    readonly budgets: BudgetLedger,
    private readonly spend?: SpendSink,
    /** A provider's own rpm/tpm rule (`[providers.X] tpm`): its tokens count there too. */
    private readonly providerRate: (provider: string) => KeyRule | undefined = () => undefined,
  ) {}

  /** The request's cost from what the record says now (provider, upstream model, usage); sets rec.costUsd. */
  price(rec: AccessRecord): number {
    const c = this.pricing.cost(rec.provider, rec.upstreamModel ?? rec.model, rec.usage);
    rec.costUsd = c.usd;
    if (!c.priced) rec.unpriced = true;
    return c.usd;
  }

  /** Bill a request that has ended (once; the ingress calls it just before the record goes to the observer). */
  finish(caller: KeyRule | undefined, rec: AccessRecord): void {
    // A failure costs nothing, unless its usage is known (a stream cut after the upstream reported it): that was spent.
    if (!rec.provider || (rec.status >= 400 && !rec.usage)) return;
    // Priced already when its header went out (non-streamed answers): the usage has not changed since.
    const usd = rec.costUsd !== undefined ? rec.costUsd : rec.usage ? this.price(rec) : (rec.costUsd = 0);
    const input = rec.usage?.prompt_tokens ?? 0;
    const output = rec.usage?.completion_tokens ?? 0;
    if (caller) {
      this.limits.addTokens(caller, input + output);
      this.budgets.add(caller, usd);
    }
    const rate = this.providerRate(rec.provider);
    if (rate?.tpm) this.limits.addTokens(rate, input + output);
    this.spend?.add({
      keyId: caller ? keyId(caller) : ANONYMOUS,
      provider: rec.provider,
      model: rec.upstreamModel ?? rec.model ?? "",
      costUsd: usd,
      inputTokens: input,
      outputTokens: output,
    });
  }
}
