// Wiring: config → providers, per-provider limiters, router and dispatcher. Everything here is built once at startup.
import type { Config } from "../config/schema.ts";
import { Balancer } from "../governance/balance.ts";
import { Limiter } from "../governance/limiter.ts";
import { Watchdog } from "./watchdog.ts";
import { createProviders, familiesOf, providerModules } from "../providers/registry.ts";
import { DEFAULT_LIMITS } from "../providers/upstream.ts";
import { Dispatcher, type DispatchObserver, type Upstream } from "./dispatch.ts";
import { Router } from "./route.ts";

export interface Gateway {
  config: Config;
  router: Router;
  dispatcher: Dispatcher;
  upstreams: Map<string, Upstream>;
  balancer: Balancer;
  /** Enforces every request's deadline, attempt timeout and client probe (see gateway/control.ts). */
  watchdog: Watchdog;
  close(): Promise<void>;
}

export function createGateway(config: Config, observer?: DispatchObserver): Gateway {
  const providers = createProviders(config.providers, {
    maxResponseSize: config.server.max_response_size,
    maxEventSize: DEFAULT_LIMITS.maxEventSize,
  });
  const upstreams = new Map<string, Upstream>();
  for (const [name, provider] of providers) {
    const cfg = config.providers[name]!;
    const rate = cfg.rpm || cfg.tpm ? { label: `provider:${name}`, id: `provider:${name}`, rpm: cfg.rpm, tpm: cfg.tpm } : undefined;
    const limiter = new Limiter(cfg.max_concurrent);
    const releaseOne = () => limiter.release();
    const extraSlot = () => (limiter.tryAcquire() ? releaseOne : undefined);
    upstreams.set(name, { provider, limiter, extraSlot, timeoutMs: cfg.timeout_secs * 1000, ...(rate ? { rate } : {}) });
  }
  const balancer = new Balancer({
    failures: config.governance.breaker_failures,
    cooldownMs: config.governance.breaker_cooldown_secs * 1000,
  });
  return {
    config,
    router: new Router(config, familiesOf(providerModules)),
    dispatcher: new Dispatcher(upstreams, config.governance, balancer, observer),
    upstreams,
    balancer,
    watchdog: new Watchdog(),
    async close() {
      await Promise.allSettled([...providers.values()].map((p) => p.close?.()));
    },
  };
}
