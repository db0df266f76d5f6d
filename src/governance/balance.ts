// Spreads requests over equivalent deployments: weighted, preferring the least busy, and a circuit breaker that
// takes a deployment out of rotation for a cooldown after repeated failures, bringing it back by itself. Or, for
// aliases that ask for it, least latency: power of two choices on a moving average of time to first byte.

export interface Deployment {
  provider: string;
  model: string;
  weight: number;
}

interface Health {
  inFlight: number;
  failures: number;
  openUntil: number;
  /** Moving average of time to first byte in ms (NaN until the first sample), and when it was last sampled. */
  ttfb: number;
  sampledAt: number;
}

export interface BalancerOptions {
  failures: number;
  cooldownMs: number;
  now?: () => number;
  random?: () => number;
  /** Least latency: weight of a new sample in the moving average (0..1]. */
  latencyAlpha?: number;
  /** Least latency: an unsampled deployment's average closes half its distance to the pool's mean in this long. */
  latencyHalfLifeMs?: number;
}

/** Least latency: two candidates whose costs are this close (relative) are a tie, split by weight. */
export const LATENCY_TIE = 0.1;

export class Balancer {
  private readonly health = new Map<string, Health>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: BalancerOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.alpha = opts.latencyAlpha ?? 0.3;
    this.halfLifeMs = opts.latencyHalfLifeMs ?? 5000;
  }
  private readonly alpha: number;
  private readonly halfLifeMs: number;

  /** Health by deployment object too: routes are built once, so a lookup builds no key string. */
  private readonly byDeployment = new WeakMap<Deployment, Health>();

  private h(d: Deployment): Health {
    let h = this.byDeployment.get(d);
    if (h) return h;
    const key = `${d.provider}/${d.model}`;
    h = this.health.get(key);
    if (!h) this.health.set(key, (h = { inFlight: 0, failures: 0, openUntil: 0, ttfb: NaN, sampledAt: 0 }));
    this.byDeployment.set(d, h);
    return h;
  }

  /** How many deployments have health kept (bounded by what the config lists). */
  get tracked(): number {
    return this.health.size;
  }

  isOpen(d: Deployment): boolean {
    return this.h(d).openUntil > this.now();
  }

  /**
   * Choose a deployment. Out-of-rotation ones and `avoid` (the one that just failed) are skipped unless nothing else
   * is left. Among the rest, the lowest in-flight/weight wins; ties go by weighted chance. With `leastLatency`, the
   * rest are compared on time to first byte instead (see `fastest`).
   */
  pick(deps: Deployment[], avoid?: Deployment, leastLatency = false): Deployment {
    if (deps.length === 1) return deps[0]!;
    const now = this.now();
    let pool = deps.filter((d) => d !== avoid && this.h(d).openUntil <= now);
    if (pool.length === 0) pool = deps.filter((d) => this.h(d).openUntil <= now);
    if (pool.length === 0) pool = deps;
    if (leastLatency) return this.fastest(pool, now);
    let best: Deployment[] = [];
    let bestLoad = Infinity;
    for (const d of pool) {
      const load = this.h(d).inFlight / d.weight;
      if (load < bestLoad) {
        bestLoad = load;
        best = [d];
      } else if (load === bestLoad) best.push(d);
    }
    if (best.length === 1) return best[0]!;
    return this.byWeight(best);
  }

  /** One of `ds` by weighted chance. */
  private byWeight(ds: Deployment[], except?: Deployment): Deployment {
    let total = 0;
    for (const d of ds) if (d !== except) total += d.weight;
    let r = this.random() * total;
    let last = ds[0]!;
    for (const d of ds) {
      if (d === except) continue;
      last = d;
      if ((r -= d.weight) < 0) return d;
    }
    return last;
  }

  /**
   * Power of two choices: two distinct candidates drawn by weight, the one with the lower expected time to first
   * byte × (in flight + 1) wins; costs within LATENCY_TIE of each other are a tie, split by weight (so near-equal
   * deployments share the load instead of herding onto one).
   */
  private fastest(pool: Deployment[], now: number): Deployment {
    if (pool.length === 1) return pool[0]!;
    const x = pool.length === 2 ? pool[0]! : this.byWeight(pool);
    const y = pool.length === 2 ? pool[1]! : this.byWeight(pool, x);
    const mean = this.poolMean(pool);
    const cx = this.expected(this.h(x), mean, now) * (this.h(x).inFlight + 1);
    const cy = this.expected(this.h(y), mean, now) * (this.h(y).inFlight + 1);
    const lo = Math.min(cx, cy);
    if (Math.max(cx, cy) <= lo * (1 + LATENCY_TIE)) return this.random() * (x.weight + y.weight) < x.weight ? x : y;
    return cx < cy ? x : y;
  }

  /**
   * A deployment's expected time to first byte: its moving average, pulled toward the pool's mean as it goes
   * unsampled (half of the difference gone every half-life), so one that was slow is tried again once it looks no
   * worse than the rest. The mean weighs each average by how fresh it is (halved every half-life behind the freshest):
   * what the pool is like now, not what a long-unused deployment was. Unsampled, a deployment is expected to be the
   * mean (0 when nothing is known).
   */
  expectedTtfb(d: Deployment, pool: Deployment[], now = this.now()): number {
    return this.expected(this.h(d), this.poolMean(pool), now);
  }

  private expected(h: Health, mean: number, now: number): number {
    if (Number.isNaN(h.ttfb)) return mean;
    return mean + (h.ttfb - mean) * 2 ** (-Math.max(0, now - h.sampledAt) / this.halfLifeMs);
  }

  /** The pool's averages, each weighed by its freshness (halved every half-life behind the freshest); 0 when none. */
  private poolMean(pool: Deployment[]): number {
    let latest = -Infinity;
    for (const o of pool) {
      const h = this.h(o);
      if (!Number.isNaN(h.ttfb) && h.sampledAt > latest) latest = h.sampledAt;
    }
    if (latest === -Infinity) return 0;
    let sum = 0;
    let weights = 0;
    for (const o of pool) {
      const h = this.h(o);
      if (Number.isNaN(h.ttfb)) continue;
      const w = 2 ** (-(latest - h.sampledAt) / this.halfLifeMs);
      sum += w * h.ttfb;
      weights += w;
    }
    return sum / weights;
  }

  /**
   * A time to first byte seen on `d`, one of `pool` (the dispatcher measures it; what a first byte is stays its
   * business). It moves the expected value, decay included, by `latencyAlpha`: after a long gap the history it
   * weighs is already close to the pool's mean.
   */
  observe(d: Deployment, ms: number, pool: Deployment[]): void {
    const h = this.h(d);
    const now = this.now();
    h.ttfb = Number.isNaN(h.ttfb) ? ms : (1 - this.alpha) * this.expected(h, this.poolMean(pool), now) + this.alpha * ms;
    h.sampledAt = now;
  }

  begin(d: Deployment) {
    this.h(d).inFlight++;
  }

  end(d: Deployment, outcome: "ok" | "retryable" | "other") {
    const h = this.h(d);
    h.inFlight--;
    if (outcome === "ok") h.failures = 0;
    else if (outcome === "retryable" && ++h.failures >= this.opts.failures) {
      h.openUntil = this.now() + this.opts.cooldownMs;
      h.failures = 0; // after the cooldown it gets a fresh count
    }
  }
}
