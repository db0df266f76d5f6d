// Access records → one access log line and the request metrics. Runs once per request when it ends.
import type { AccessRecord, RequestObserver } from "./access.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import type { Fields, Logger } from "./log.ts";
import { QUIET_ROUTES } from "../routes.ts";


const ms = (v: number) => Math.round(v * 100) / 100;

export function accessFields(rec: AccessRecord): Fields {
  const f: Fields = {
    requestId: rec.requestId,
    method: rec.method,
    route: rec.route,
    status: rec.status,
    model: rec.model,
    provider: rec.provider,
    upstreamModel: rec.upstreamModel,
    attempts: rec.attempts,
    retries: rec.retries,
    failovers: rec.failovers,
    stream: rec.stream,
    ttfbMs: rec.ttfbMs === undefined ? undefined : ms(rec.ttfbMs),
    durationMs: ms(rec.durationMs),
  };
  if (rec.usage) {
    f.promptTokens = rec.usage.prompt_tokens;
    f.completionTokens = rec.usage.completion_tokens;
    f.totalTokens = rec.usage.total_tokens;
  }
  if (rec.costUsd !== undefined) f.costUsd = rec.costUsd;
  if (rec.hedgeOutcome) {
    f.hedges = rec.hedges ?? 0;
    f.hedgeOutcome = rec.hedgeOutcome;
  }
  if (rec.key) f.key = rec.key;
  if (rec.finishReason) f.finishReason = rec.finishReason;
  if (rec.error) {
    f.error = rec.error;
    f.errorMessage = rec.errorMessage;
    if (rec.errorStack) f.errorStack = rec.errorStack;
  }
  return f;
}

export function createRequestObserver(log: Logger, metrics?: GatewayMetrics): RequestObserver {
  const observer: RequestObserver = {
    end(rec) {
      metrics?.request(rec);
      const level = rec.errorStack ? "error" : rec.status >= 500 ? "warn" : QUIET_ROUTES.has(rec.route) && rec.status < 400 ? "debug" : "info";
      // Build the line only when it will be written (at --log-level warn the hot path skips it entirely).
      if (level !== "warn" && level !== "error" && !log.enabled(level)) return;
      log[level]("request", accessFields(rec));
    },
  };
  if (log.enabled("debug"))
    observer.text = (requestId, kind, body) => log.debug(kind, { requestId, [kind === "prompt" ? "messages" : "message"]: body });
  return observer;
}

/**
 * The same observer, run after the response has gone out, so a request's latency does not include its log line and
 * metrics. Records wait for the end of the event-loop turn; one setImmediate takes all of that turn's records.
 * `flush()` handles whatever is waiting at once (shutdown).
 */
export function afterResponse(inner: RequestObserver): RequestObserver & { flush(): void } {
  let pending: AccessRecord[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = [];
    for (const rec of batch) {
      try {
        inner.end(rec);
      } catch {
        // Out of any request now, a throw would take the process down: one bad record must not, nor stop the rest.
      }
    }
  };
  const deferred: RequestObserver & { flush(): void } = {
    end(rec) {
      pending.push(rec);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
  // Prompt and completion text (debug level) stay synchronous: they are logged while the request runs.
  if (inner.text) deferred.text = inner.text;
  return deferred;
}
