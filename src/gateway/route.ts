// Model name → the ordered steps to try. Each step is one target or a set of load-balanced deployments.
// Built from config once; per request it is a map lookup or a prefix split.
import type { Config } from "../config/schema.ts";
import { AlloyError } from "../errors.ts";
import { own } from "../util/own.ts";
import type { Deployment } from "../governance/balance.ts";

export interface Step {
  deployments: Deployment[];
}

export interface Route {
  steps: Step[];
  /** The alias, when the model named one. */
  alias?: string;
  mcpServers?: string[];
  /** Alias option: start the next target too when the current one has given no first byte after this long. */
  hedgeAfterMs?: number;
  /** Alias option: pick among deployments by least time to first byte instead of weighted least-busy. */
  leastLatency?: boolean;
  /**
   * A non-alias route without its fallback_order steps: for operations whose answer must come from the model named
   * (embeddings — a fallback's default model is a chat model, and vectors of another model are not comparable).
   */
  alone?: Route;
}

/** The route for such an operation: an alias keeps every target it lists, a direct model is tried alone. */
export const namedTargetsOnly = (route: Route): Route => route.alone ?? route;

export class Router {
  private readonly aliases = new Map<string, Route>();
  /** Aliases named with a trailing `*` (`claude-*`): their prefix, longest first so the most specific wins. */
  private readonly wildcards: Array<[prefix: string, route: Route]> = [];
  /** Per provider: the failover steps that follow it for a non-alias request. */
  private readonly fallbacks = new Map<string, Step[]>();

  /** @param families bare model names → provider type, from the provider modules (see registry.ts familiesOf) */
  constructor(
    private readonly config: Config,
    private readonly families: Array<[RegExp, string]>,
  ) {
    const active = (p: string) => p in config.providers;
    for (const [name, alias] of Object.entries(config.models)) {
      const steps: Step[] = [];
      for (const t of alias.targets) {
        const deployments = (Array.isArray(t) ? t : [t])
          .map((d) => (typeof d === "string" ? { target: d, weight: 1 } : { target: d.target, weight: d.weight ?? 1 }))
          .map(({ target, weight }) => {
            const slash = target.indexOf("/");
            return { provider: target.slice(0, slash), model: target.slice(slash + 1), weight };
          })
          .filter((d) => active(d.provider));
        if (deployments.length) steps.push({ deployments });
      }
      const route: Route = { steps, alias: name, mcpServers: alias.mcp_servers };
      if (alias.hedge_after_ms !== undefined) route.hedgeAfterMs = alias.hedge_after_ms;
      if (alias.strategy === "least_latency") route.leastLatency = true;
      if (name.endsWith("*")) this.wildcards.push([name.slice(0, -1), route]);
      else this.aliases.set(name, route);
    }
    this.wildcards.sort((a, b) => b[0].length - a[0].length);
    const gov = config.governance;
    for (const primary of Object.keys(config.providers)) {
      const steps: Step[] = [];
      if (gov.failover_enabled)
        for (const p of gov.fallback_order) {
          const model = config.providers[p]?.default_model;
          if (p !== primary && model) steps.push({ deployments: [{ provider: p, model, weight: 1 }] });
        }
      this.fallbacks.set(primary, steps);
    }
  }

  get aliasNames(): string[] {
    return [...this.aliases.keys(), ...this.wildcards.map(([p]) => `${p}*`)];
  }

  /**
   * Model names already resolved (`provider/model` and family names), so a repeat costs one lookup and no
   * allocation. Bounded: names come from clients, and past the cap they are resolved afresh each time.
   */
  private readonly resolved = new Map<string, Route>();

  resolve(model: string): Route {
    let route = this.resolved.get(model);
    if (route === undefined) {
      route = this.lookup(model);
      if (this.resolved.size < 1000) this.resolved.set(model, route);
    }
    return route;
  }

  private lookup(model: string): Route {
    let alias = this.aliases.get(model);
    if (!alias) for (const [prefix, route] of this.wildcards) if (model.startsWith(prefix)) {
      alias = route;
      break;
    }
    if (alias) {
      if (!alias.steps.length) throw new AlloyError("unavailable", `no active provider serves the model alias '${model}'`);
      return alias;
    }
    const slash = model.indexOf("/");
    if (slash > 0) {
      const provider = model.slice(0, slash);
      if (own(this.config.providers, provider)) return this.direct(provider, model.slice(slash + 1));
      const inactive = own(this.config.inactive, provider);
      if (inactive) throw new AlloyError("unavailable", `provider '${provider}' is not active: ${inactive}`);
    }
    for (const [re, provider] of this.families) {
      if (!re.test(model)) continue;
      if (own(this.config.providers, provider)) return this.direct(provider, model);
      const inactive = own(this.config.inactive, provider);
      if (inactive) throw new AlloyError("unavailable", `provider '${provider}' for model '${model}' is not active: ${inactive}`);
      break;
    }
    throw new AlloyError("not_found", `The model '${model}' does not exist or no provider is configured for it`, { param: "model" });
  }

  private direct(provider: string, model: string): Route {
    if (!model) throw new AlloyError("not_found", `The model '${provider}/' names no model`, { param: "model" });
    const first: Step = { deployments: [{ provider, model, weight: 1 }] };
    return { steps: [first, ...this.fallbacks.get(provider)!], alone: { steps: [first] } };
  }
}
