// Failed upstream attempts get a line of their own (the access line only counts them), tagged with the request id.
import type { DispatchObserver } from "../gateway/dispatch.ts";
import type { Logger } from "./log.ts";

export function withAttemptLog(log: Logger, inner?: DispatchObserver): DispatchObserver {
  return {
    retry: () => {},
    failover: () => {},
    hedge: () => {},
    ...inner,
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
  };
}
