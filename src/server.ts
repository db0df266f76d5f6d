// Start and stop the gateway: config in, a listening server out, graceful shutdown on signals.
import type { Config } from "./config/schema.ts";
import type { DispatchObserver } from "./gateway/dispatch.ts";
import { createGateway, type Gateway } from "./gateway/gateway.ts";
import { createApp } from "./http/app.ts";
import { openRelayWarning } from "./http/auth.ts";
import type { McpManager } from "./mcp/servers.ts";
import { createGatewayMetrics, type GatewayMetrics } from "./observability/gateway-metrics.ts";
import { createLogger, type Logger } from "./observability/log.ts";
import { afterResponse, createRequestObserver } from "./observability/observer.ts";
import { clientRedactor, collectSecrets, scrubClientMessage, upstreamHosts } from "./observability/redact.ts";
import { AlloyError, setMessageScrubber } from "./errors.ts";

export const VERSION = "0.1.0";

/** Failed upstream attempts get a line of their own (the access line only counts them), tagged with the request id. */
function withAttemptLog(log: Logger, inner?: DispatchObserver): DispatchObserver {
  return {
    attempt(provider, model, ms, error, requestId) {
      inner?.attempt(provider, model, ms, error, requestId);
      if (error && error.kind !== "cancelled")
        log.warn("upstream attempt failed", {
          requestId,
          provider,
          upstreamModel: model,
          error: error.kind,
          status: error.status,
          retryable: error.retryable,
          errorMessage: error.message,
          durationMs: Math.round(ms * 100) / 100,
        });
    },
    retry: (provider) => inner?.retry(provider),
    failover: (from, to) => inner?.failover(from, to),
  };
}

/** A startup failure the CLI prints as one line (exit 2): no stack trace of minified source. */
export class StartupError extends Error {}

function listen(app: ReturnType<typeof createApp>, config: Config): void {
  app.listen({
    port: config.server.port,
    hostname: config.server.host,
    // Never share a port silently: with SO_REUSEPORT (Elysia's default) a second Alloy on the same port would start
    // and the kernel would split traffic between two configs.
    reusePort: false,
    // Our own reader enforces max_body_size with a proper 413; Bun's cap is only a backstop.
    maxRequestBodySize: config.server.max_body_size * 2 + 65536,
    // Idle sockets (slow or stuck clients) are cut; requests lift this once their body is read. One second more than
    // the body-read deadline, so a trickling client gets our 408 before Bun drops the socket.
    idleTimeout: config.server.read_timeout_secs + 1,
  });
}

/** Why listening failed, in one line that names the address. */
function listenFailure(e: unknown, host: string, port: number): string {
  const err = e as { code?: unknown; message?: unknown };
  const text = `${String(err?.code ?? "")} ${String(err?.message ?? e)}`;
  const shown = JSON.stringify(host).slice(1, -1); // escapes control and invalid characters
  if (/EADDRINUSE|in use/i.test(text)) return `port ${port} is already in use (on ${shown}): stop the other process or pick another port with --port`;
  if (/EACCES|permission/i.test(text)) return `not allowed to listen on port ${port} (on ${shown}): ports below 1024 need privileges`;
  if (/EADDRNOTAVAIL|ENOTFOUND|getaddrinfo|resolve|invalid/i.test(text)) return `cannot listen on host "${shown}": not an address of this machine`;
  return `cannot listen on ${shown}:${port}: ${String(err?.message ?? e).split("\n")[0]}`;
}

export interface Running {
  port: number;
  url: string;
  gateway: Gateway;
  log: Logger;
  /** Present when MCP servers are configured. */
  mcp: McpManager | undefined;
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
  const observer = afterResponse(createRequestObserver(log, metrics));
  const app = createApp({ gateway, observer, metrics, mcp, readiness: mcp ? [() => mcp.readiness()] : [] });
  try {
    listen(app, config);
  } catch (e) {
    await Promise.allSettled([gateway.close(), mcp?.close()]);
    // Bun says "is port N in use?" for a host it cannot bind too: tell the two apart (only on this failure path).
    const resolvable = await import("node:dns/promises").then((dns) => dns.lookup(config.server.host)).then(() => true, () => false);
    if (!resolvable) throw new StartupError(`cannot listen on host "${JSON.stringify(config.server.host).slice(1, -1)}": the name does not resolve to an address of this machine`);
    throw new StartupError(listenFailure(e, config.server.host, config.server.port));
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
    metrics: config.metrics,
  });
  for (const [name, why] of Object.entries(config.inactive)) log.warn(`provider ${name} skipped: ${why}`, { provider: name });
  if (active.length === 0) log.warn("no provider is active: every chat request will fail until one is configured");
  const relay = openRelayWarning(config.server);
  if (relay) log.warn(relay);

  let stopping: Promise<void> | undefined;
  return {
    port: server.port!,
    url: `http://127.0.0.1:${server.port}`,
    gateway,
    log,
    mcp,
    stop(graceful = true) {
      stopping ??= (async () => {
        const grace = config.server.shutdown_grace_secs * 1000;
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
        await Promise.allSettled([gateway.close(), mcp?.close()]);
        observer.flush();
        log.flush();
      })();
      return stopping;
    },
  };
}
