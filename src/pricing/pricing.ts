// What a request cost: its usage × the price of the model that answered it. Prices are resolved once per
// provider×model (a Map lookup afterwards); the config's `[pricing."provider/model"]` wins over the built-in table.
import type { PriceConfig, ProviderConfig } from "../config/schema.ts";
import type { Usage } from "../openai/schema.ts";
import { own } from "../util/own.ts";
import { PRICES, type Price } from "./prices.ts";

/** Prices are per million tokens; dividing (not multiplying by 1e-6) keeps whole-dollar sums exact. */
const PER_MILLION = 1e6;
const REGION_PREFIX = /^(?:us|eu|apac|us-gov|global|jp|au)\./;

/** The entry of `table` for this model: exact, else the longest key the model starts with (dated snapshots). */
export function lookup(table: Record<string, Price>, model: string): Price | undefined {
  const exact = own(table, model);
  if (exact) return exact;
  let best: string | undefined;
  for (const k of Object.keys(table)) if (model.startsWith(k) && (!best || k.length > best.length)) best = k;
  return best === undefined ? undefined : table[best];
}

/**
 * USD for this usage at this price. The prompt counts every input token (cache reads and writes included, see
 * openai/usage.ts); cache reads are `prompt_tokens_details.cached_tokens`, cache writes the optional
 * `cache_write_tokens` there. A cache price the table lacks falls back to the input price.
 */
export function costOf(price: Price, u: Usage): number {
  const details = u.prompt_tokens_details as { cached_tokens?: number; cache_write_tokens?: number } | undefined;
  const read = Math.max(0, details?.cached_tokens ?? 0);
  const write = Math.max(0, details?.cache_write_tokens ?? 0);
  const plain = Math.max(0, (u.prompt_tokens ?? 0) - read - write);
  const cost =
    plain * price.input + read * (price.cacheRead ?? price.input) + write * (price.cacheWrite ?? price.input) + Math.max(0, u.completion_tokens ?? 0) * price.output;
  return cost / PER_MILLION;
}

const FREE: Price = { input: 0, output: 0 };

export class Pricing {
  private readonly cache = new Map<string, Map<string, Price | null>>();
  private readonly configured: Record<string, Price> = {};
  private cached = 0;

  /**
   * `providers`: the configured providers (a name's type picks the built-in table). `onUnpriced` is told once per
   * provider×model that has no price.
   */
  constructor(
    overrides: Record<string, PriceConfig>,
    private readonly providers: Record<string, ProviderConfig>,
    private readonly onUnpriced: (provider: string, model: string) => void = () => {},
  ) {
    for (const [k, v] of Object.entries(overrides)) this.configured[k] = { input: v.input, output: v.output, cacheRead: v.cache_read, cacheWrite: v.cache_write };
  }

  /** The price of this provider's model, or undefined when neither the config nor the table has one. */
  price(provider: string, model: string): Price | undefined {
    let byModel = this.cache.get(provider);
    if (!byModel) this.cache.set(provider, (byModel = new Map()));
    const hit = byModel.get(model);
    if (hit !== undefined) return hit ?? undefined;
    const found = this.resolve(provider, model);
    // Bounded: model names come from upstream answers, so a hostile upstream must not grow this without end. Past the
    // bound a model is looked up each time, and no longer warned about (one line per model, at most 1000 lines).
    if (this.cached < 1000) {
      byModel.set(model, found ?? null);
      this.cached++;
      if (!found) this.onUnpriced(provider, model);
    }
    return found;
  }

  private resolve(provider: string, model: string): Price | undefined {
    const mine = own(this.configured, `${provider}/${model}`);
    if (mine) return mine;
    const type = own(this.providers, provider)?.type ?? provider;
    // The built-in mock calls no paid upstream: it is free, not unpriced (no warning, not counted as unpriced).
    if (type === "mock") return FREE;
    const table = own(PRICES, type);
    if (!table) return undefined;
    return lookup(table, type === "bedrock" ? model.replace(REGION_PREFIX, "") : model);
  }

  /** USD for one answered request; 0 (and `priced: false`) when its model has no price. */
  cost(provider: string | undefined, model: string | undefined, usage: Usage | undefined): { usd: number; priced: boolean } {
    if (!provider || !model || !usage) return { usd: 0, priced: true };
    const price = this.price(provider, model);
    return price ? { usd: costOf(price, usage), priced: true } : { usd: 0, priced: false };
  }
}
