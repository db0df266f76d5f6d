// Start and stop the gateway: config in, a listening server out, graceful shutdown on signals.
import { lookup } from "node:dns/promises";
import { withAttemptLog } from "./observability/attempt-log.ts";
import { networkInterfaces } from "node:os";
import type { Config } from "./config/schema.ts";
import type { DispatchObserver } from "./gateway/dispatch.ts";
import { createGateway, type Gateway } from "./gateway/gateway.ts";
import { createApp } from "./http/app.ts";
import { configKeyRules, GatewayAuth, openRelayWarning } from "./http/auth.ts";
import { Accounting } from "./governance/accounting.ts";
import { Budgets, type BudgetLedger } from "./governance/budgets.ts";
import type { SharedCounters } from "./governance/redis.ts";
import { KeyLimits } from "./governance/keylimits.ts";
import type { VirtualKeys } from "./keys/virtual.ts";
import { Pricing } from "./pricing/pricing.ts";
import type { McpGateway } from "./mcp/gateway.ts";
import type { McpManager } from "./mcp/servers.ts";
import { createGatewayMetrics, type GatewayMetrics } from "./observability/gateway-metrics.ts";
import { createLogger, type Logger } from "./observability/log.ts";
import { afterResponse, createRequestObserver } from "./observability/observer.ts";
import { NO_TRACING, withServedSpans } from "./observability/tracing.ts";
import { clientRedactor, collectSecrets, scrubClientMessage, upstreamHosts } from "./observability/redact.ts";
import { AlloyError, setMessageScrubber } from "./errors.ts";
import type { Store } from "./store/store.ts";

/** The Redis URL without its password (the redis module itself is loaded only when one is set). */

export const VERSION = "0.1.0";

/** A startup failure the operator can fix (port in use, bad host): its message is the one line to show. */
export class StartupError extends Error {
  override name = "StartupError";
}

/** Addresses a server on this machine can listen on: wildcards, loopback, and those of its interfaces. */
function isLocalAddress(address: string): boolean {
  if (address === "0.0.0.0" || address === "::" || address === "::1" || address.startsWith("127.")) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === address));
}

/**
 * Why listening failed, as one line naming what to change. Bun's error code cannot be trusted on its own: the same
 * unresolvable host comes back as EINVAL from a small script and as EADDRINUSE ("errno: 0") inside Alloy, so the host
 * is checked first and "in use" is said only of a port that can be.
 */
async function listenFailure(e: unknown, host: string, port: number): Promise<string> {
  const code = (e as { code?: string } | null)?.code;
  const where = `cannot listen on ${JSON.stringify(host)} port ${port}`;
  let addresses: string[];
  try {
    addresses = (await lookup(host || "localhost", { all: true })).map((a) => a.address);
  } catch (err) {
    return `${where}: server.host does not resolve (${(err as { code?: string }).code ?? "lookup failed"})`;
  }
  if (!addresses.some(isLocalAddress)) return `${where}: server.host is not an address of this machine (${addresses.join(", ")})`;
  if (code === "EACCES") return `${where}: permission denied (ports below 1024 need privileges)`;
  if (port !== 0 && (code === "EADDRINUSE" || code === undefined || code === "EINVAL"))
    return `${where}: port ${port} is already in use (by another Alloy or another program)`;
  const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  return `${where}: ${code ? `${code}: ` : ""}${msg}`;
}

/**
 * Open `[store] url` (migrated, background flush running). The store module and Bun's SQL client are loaded here, by
 * a dynamic import, not with the rest of startup's modules. A store that cannot be opened is one line (exit 2).
 */
async function openConfiguredStore(config: Config, log: Logger): Promise<Store> {
  const { openStore, StoreError } = await import("./store/store.ts");
  try {
    return await openStore(config.store.url, {
      retentionDays: config.store.responses_retention_days,
      onError: (e) => log.warn(e.message),
    });
  } catch (e) {
    if (e instanceof StoreError) throw new StartupError(e.message);
    throw new StartupError(`store: cannot be opened: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
  }
}

export interface Running {
  port: number;
  url: string;
  gateway: Gateway;
  log: Logger;
  /** Present when MCP servers are configured. */
  mcp: McpManager | undefined;
  store: Store;
  /** /mcp's sessions; present when MCP servers are configured. */
  mcpGateway: McpGateway | undefined;
  stop(graceful?: boolean): Promise<void>;
}

export async function start(config: Config, opts: { log?: Logger } = {}): Promise<Running> {
  const log = opts.log ?? createLogger(config.log);
  // Known secret values are blanked from every line; env-derived guesses only when long enough to be keys.
  const secrets = collectSecrets(config);
  log.addSecrets(secrets.exact);
  log.addSecrets(secrets.heuristic, 8);
  // Client-facing error messages get the same scrub, and lose the upstreams' host names too.
  clientRedactor.add(secrets.exact);
  clientRedactor.add(secrets.heuristic, 8);
  clientRedactor.add(upstreamHosts(config));
  setMessageScrubber(scrubClientMessage);
  const metrics: GatewayMetrics | undefined = config.metrics ? createGatewayMetrics({ config, version: VERSION }) : undefined;
  const gateway = createGateway(config, withAttemptLog(log, metrics?.dispatch));
  metrics?.watch(gateway.upstreams);
  // MCP servers connect in the background (mcp.start() below): /health answers at once, /ready waits for them.
  // The MCP SDK is loaded only when servers are configured: it costs ~25 MB of idle memory otherwise for nothing.
  const mcp = Object.keys(config.mcp.servers).length
    ? new (await import("./mcp/servers.ts")).McpManager(config.mcp, { log, clientVersion: VERSION, onToolCall: metrics?.mcpToolCall })
    : undefined;
  // The store first: virtual keys are callers of the guard, and budgets start from the spend it holds.
  let store: Store;
  try {
    store = await openConfiguredStore(config, log);
  } catch (e) {
    await Promise.allSettled([gateway.close(), mcp?.close()]);
    throw e;
  }
  // Many replicas: key limits and budgets in Redis (loaded only when configured), else in this process.
  let shared: SharedCounters | undefined;
  let redisName: string | undefined; // the Redis URL as the startup line shows it (no password)
  if (config.store.redis_url) {
    const { SharedCounters: Shared, redactRedisUrl } = await import("./governance/redis.ts");
    redisName = redactRedisUrl(config.store.redis_url);
    const { periodStart } = await import("./store/store.ts");
    const s = store;
    shared = new Shared({
      url: config.store.redis_url,
      onError: config.store.on_error,
      spendOf: async (id, period, at) => (await s.spend.forKey(id, periodStart(period, at))).spendUsd,
      countError: () => metrics?.storeError("redis"),
      warn: (m) => log.warn(m),
      leaseMs: (config.server.timeout_secs + config.server.shutdown_grace_secs + 60) * 1000,
    });
    await shared.start();
  }
  const budgets: BudgetLedger = shared ?? new Budgets();
  let virtualKeys: VirtualKeys;
  try {
    const keys = await import("./keys/virtual.ts");
    virtualKeys = new keys.VirtualKeys(store, budgets, Date.now, (e) => {
      metrics?.storeError("database");
      log.warn(`virtual keys: reading the store failed (keys in memory are still served): ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    });
    await virtualKeys.load();
    await keys.seedConfigBudgets(store, budgets, configKeyRules(config.server));
    const vk = virtualKeys;
    await shared?.subscribe(() => vk.refresh());
  } catch (e) {
    shared?.close();
    await Promise.allSettled([gateway.close(), mcp?.close(), store.close()]);
    throw new StartupError(`store ${store.name}: cannot read keys and spend: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`);
  }
  const pricing = new Pricing(config.pricing, config.providers, (provider, model) =>
    log.warn(`no price for ${provider}/${model}: its requests cost 0 (add [pricing."${provider}/${model}"])`, { provider, upstreamModel: model }),
  );
  const accounting = new Accounting(pricing, shared ?? new KeyLimits(), budgets, store.spend, (p) => gateway.upstreams.get(p)?.rate);
  // Providers' own rpm/tpm are counted where keys' are (in Redis when replicas share limits).
  gateway.dispatcher.rates = accounting.limits;
  const auth = new GatewayAuth(config.server, { virtual: virtualKeys, limits: accounting.limits, budgets });
  // /mcp's tool calls count in the same per-key limits as every other request.
  const mcpGateway = mcp
    ? new (await import("./mcp/gateway.ts")).McpGateway({
        mcp,
        config: config.mcp,
        log,
        admit: (caller) => auth.admit(caller),
        version: VERSION,
        maxBodySize: config.server.max_body_size,
      })
    : undefined;
  // The OpenTelemetry SDK is loaded only when tracing is configured: otherwise requests call NO_TRACING's nothing.
  const tracing = config.tracing
    ? (await import("./observability/otel.ts")).createOtelTracing(config.tracing, config, { onDropped: metrics?.spansDropped, version: VERSION })
    : NO_TRACING;
  const deferred = afterResponse(createRequestObserver(log, metrics));
  const observer = tracing.enabled ? withServedSpans(deferred, tracing) : deferred;
  const app = createApp({ gateway, observer, metrics, mcp, mcpGateway, auth, readiness: mcp ? [() => mcp.readiness()] : [], degraded: shared ? [() => shared.degraded()] : [], announceKey: shared ? (id) => shared.announce(id) : undefined, store, log, tracing, accounting, virtualKeys });
  try {
    app.listen({
      port: config.server.port,
      hostname: config.server.host,
      // Elysia asks for SO_REUSEPORT by default: a second Alloy on the same port would start without a word and the
      // kernel would split connections between two configs. A port in use must be an error.
      reusePort: false,
      // Our own reader enforces max_body_size with a proper 413; Bun's cap is only a backstop.
      maxRequestBodySize: config.server.max_body_size * 2 + 65536,
      // Idle sockets (slow or stuck clients) are cut; requests lift this once their body is read. One second more than
      // the body-read deadline, so a trickling client gets our 408 before Bun drops the socket.
      idleTimeout: Math.ceil(config.server.read_timeout_secs) + 1,
    });
  } catch (e) {
    virtualKeys.stop();
    shared?.close();
    await Promise.allSettled([gateway.close(), mcpGateway?.close(), mcp?.close(), store.close(), tracing.shutdown()]);
    throw new StartupError(await listenFailure(e, config.server.host, config.server.port));
  }
  const server = app.server!;
  mcp?.start();
  // Startup garbage (TOML, schema compilation, module init) is dead now: collect it once so idle memory is what serving
  // needs, not what starting needed.
  Bun.gc(true);

  const active = Object.keys(config.providers);
  log.info(`alloy ${VERSION} listening on http://${config.server.host}:${server.port}`, {
    version: VERSION,
    port: server.port,
    config: config.file ?? "(none)",
    providers: active,
    aliases: Object.keys(config.models),
    mcpServers: Object.keys(config.mcp.servers),
    store: store.name,
    ...(redisName ? { redis: redisName } : {}),
    metrics: config.metrics,
    admin: config.server.admin_key !== undefined,
  });
  for (const [name, why] of Object.entries(config.inactive)) log.warn(`provider ${name} skipped: ${why}`, { provider: name });
  if (active.length === 0) log.warn("no provider is active: every chat request will fail until one is configured");
  const relay = virtualKeys.size > 0 ? undefined : openRelayWarning(config.server);
  if (relay) log.warn(relay);

  let stopping: Promise<void> | undefined;
  return {
    port: server.port!,
    url: `http://127.0.0.1:${server.port}`,
    gateway,
    log,
    mcp,
    store,
    mcpGateway,
    stop(graceful = true) {
      stopping ??= (async () => {
        const grace = config.server.shutdown_grace_secs * 1000;
        // /mcp event streams never end by themselves: end them so draining waits only for calls in flight.
        mcpGateway?.closeStreams();
        const drained = server.stop(!graceful);
        if (graceful && grace > 0) {
          let t: Timer | undefined;
          await Promise.race([drained, new Promise((r) => (t = setTimeout(r, grace)))]);
          clearTimeout(t);
          // Grace is over: what is still open ends with an error its client can read (a stream gets the error event,
          // a waiting request a 503), rather than a cut socket that looks like the client left. A short bound for
          // those last bytes to go out, then every socket closes.
          const cut = gateway.watchdog.endAll(new AlloyError("shutting_down", "Alloy is shutting down: the request was cut when the shutdown grace period ended"));
          if (cut > 0) {
            await Promise.race([drained, new Promise((r) => (t = setTimeout(r, 1000)))]);
            clearTimeout(t);
          }
          await server.stop(true);
        } else await drained;
        // The store last: responses answered during the drain are queued, and so is their spend (billed when each
        // request ended); closing flushes them.
        await Promise.allSettled([gateway.close(), mcpGateway?.close(), mcp?.close()]);
        virtualKeys.stop();
        shared?.close();
        await store.close().catch((e) => log.error(`store close failed: ${e instanceof Error ? e.message : String(e)}`));
        observer.flush();
        // Spans still queued go to the collector now, within the export timeout.
        await tracing.shutdown();
        log.flush();
      })();
      return stopping;
    },
  };
}
