// The access record: one per request, filled in as the request goes and handed to logs and metrics when it ends.
import type { Usage } from "../openai/schema.ts";

export interface AccessRecord {
  requestId: string;
  method: string;
  route: string;
  status: number;
  /** The model the client asked for. */
  model?: string;
  /** Who answered (or was tried last). */
  provider?: string;
  upstreamModel?: string;
  attempts: number;
  retries: number;
  failovers: number;
  /** Hedged attempts started (0 or 1; absent when the alias does not hedge or no hedge was due). */
  hedges?: number;
  /** How the hedge went: won (it answered first), lost, or skipped (no free slot). */
  hedgeOutcome?: "won" | "lost" | "skipped";
  stream: boolean;
  /** ms from arrival to the first byte of the answer. */
  ttfbMs?: number;
  durationMs: number;
  usage?: Usage;
  /** USD the answer cost (src/pricing/), when it came from a provider. */
  costUsd?: number;
  /** The answering model has no price (it cost 0). */
  unpriced?: boolean;
  /** The gateway key's label (never the key), when keys are configured. */
  key?: string;
  /** The error kind when the request failed (rate_limit, timeout, bad_request, …). */
  error?: string;
  errorMessage?: string;
  /** A fault in Alloy's own code (error "internal"): where it happened, for whoever fixes it. */
  errorStack?: string;
  finishReason?: string | null;
}

export type TextKind = "prompt" | "completion";

export interface RequestObserver {
  /**
   * Called exactly once per request, after the last byte (or the failure). Must not block. `request` is given by
   * routes that leave no trace span of their own, so one can be made for them at the end (see tracing.ts).
   */
  end(rec: AccessRecord, request?: Request): void;
  /**
   * Present only when prompt and completion text are to be logged (debug level): callers check for it before
   * gathering any text, so nothing is collected otherwise.
   */
  text?(requestId: string, kind: TextKind, body: unknown): void;
  /** Handle records still waiting (see afterResponse in observer.ts): before a metrics scrape and at shutdown. */
  flush?(): void;
}

/** An access record for a route with no upstream (health, models, metrics, errors before routing). */
export function simpleRecord(requestId: string, method: string, route: string, status: number, durationMs: number): AccessRecord {
  return { requestId, method, route, status, attempts: 0, retries: 0, failovers: 0, stream: false, durationMs };
}

/** Wrap the handler of a route with no upstream so it leaves an access record too (request id from the response). */
export function observed<C extends { request: Request }>(
  observer: RequestObserver,
  route: string,
  handler: (ctx: C) => Response,
): (ctx: C) => Response {
  return (ctx) => {
    const t = performance.now();
    const res = handler(ctx);
    observer.end(simpleRecord(res.headers.get("x-request-id") ?? "", ctx.request.method, route, res.status, performance.now() - t), ctx.request);
    return res;
  };
}
