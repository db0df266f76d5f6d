// Spreads requests over equivalent deployments: weighted, preferring the least busy, and a circuit breaker that
// takes a deployment out of rotation for a cooldown after repeated failures, bringing it back by itself.

export interface Deployment {
  provider: string;
  model: string;
  weight: number;
}

interface Health {
  inFlight: number;
  failures: number;
  openUntil: number;
}

export interface BalancerOptions {
  failures: number;
  cooldownMs: number;
  now?: () => number;
  random?: () => number;
}

export class Balancer {
  private readonly health = new Map<string, Health>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: BalancerOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  private h(d: Deployment): Health {
    const key = `${d.provider}/${d.model}`;
    let h = this.health.get(key);
    if (!h) this.health.set(key, (h = { inFlight: 0, failures: 0, openUntil: 0 }));
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
   * is left. Among the rest, the lowest in-flight/weight wins; ties go by weighted chance.
   */
  pick(deps: Deployment[], avoid?: Deployment): Deployment {
    if (deps.length === 1) return deps[0]!;
    const now = this.now();
    let pool = deps.filter((d) => d !== avoid && this.h(d).openUntil <= now);
    if (pool.length === 0) pool = deps.filter((d) => this.h(d).openUntil <= now);
    if (pool.length === 0) pool = deps;
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
    let total = 0;
    for (const d of best) total += d.weight;
    let r = this.random() * total;
    for (const d of best) if ((r -= d.weight) < 0) return d;
    return best[best.length - 1]!;
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
