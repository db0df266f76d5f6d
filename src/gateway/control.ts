// One request's lifetime as the dispatcher sees it: it ends when the client leaves or its deadline passes, and that
// end reaches the upstream attempt in flight. A Watchdog calls `check` each tick to enforce the request deadline, the
// attempt timeout and the client probe, so the hot path creates no timer and no listener, and one AbortController
// for its upstream attempts (a second only after a timeout, or for a hedge).
import { AlloyError } from "../errors.ts";
import type { RequestTrace } from "../observability/tracing.ts";
import type { Watched } from "./watchdog.ts";

/** What happened to one request, filled in as it goes (read by the access log and metrics even on failure). */
export interface DispatchInfo {
  provider?: string;
  upstreamModel?: string;
  attempts: number;
  retries: number;
  failovers: number;
  /** Hedged attempts started (at most one per request), and how the hedge went (`skipped`: no free slot). */
  hedges?: number;
  hedgeOutcome?: "won" | "lost" | "skipped";
}

/** A second attempt in flight beside the first (a hedge): made only when one starts. */
interface SecondAttempt {
  ac: AbortController;
  provider: string;
  timeoutMs: number;
  endsAt: number;
}

export class RequestControl implements Watched {
  /** Why the request ended early (a timeout or a cancelled AlloyError), once it has. */
  ended: AlloyError | undefined;
  /** The upstream attempt in flight: ending the request aborts it too. */
  attempt: AbortController | undefined;
  /** The request's trace (observability/tracing.ts), when tracing is on: attempts, events and tool calls add to it. */
  trace: RequestTrace | undefined;
  /** Epoch ms when the request deadline passes (bounds backoff waits). */
  readonly deadline: number;
  private readonly endsAt: number;
  private attemptEndsAt = Infinity;
  private attemptProvider = "";
  private attemptTimeoutMs = 0;
  private ac: AbortController | undefined;
  private second: SecondAttempt | undefined;

  /**
   * @param budgetMs the request deadline, from now
   * @param gone probed each tick: true once the client has left (the HTTP layer knows how to tell)
   */
  constructor(
    readonly requestId: string,
    private readonly budgetMs: number,
    readonly info: DispatchInfo,
    private readonly gone?: () => boolean,
  ) {
    this.deadline = Date.now() + budgetMs;
    this.endsAt = performance.now() + budgetMs;
  }

  /** For waits off the hot path (a queue, a backoff, a tool call): made on first use, aborted when the request ends. */
  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.ended) this.ac.abort(this.ended);
    }
    return this.ac.signal;
  }

  /** End the request (first reason wins): its waits and the attempt in flight are aborted with `reason`. */
  end(reason: AlloyError): void {
    if (this.ended) return;
    this.ended = reason;
    this.ac?.abort(reason);
    this.attempt?.abort(reason);
    this.second?.ac.abort(reason);
  }

  private spare: AbortController | undefined;

  /**
   * The controller for the next attempt: one per request, reused by its retries, failovers and tool rounds while
   * nothing has aborted it and the attempt in flight (if any) is not holding it; a new one only after an attempt timed
   * out or was cancelled (its signal stays aborted). A hedge, beside an attempt in flight, always gets its own.
   */
  attemptController(): AbortController {
    const ac = this.spare;
    if (!ac || ac.signal.aborted) return (this.spare = new AbortController());
    return this.attempt === ac ? new AbortController() : ac;
  }

  /**
   * An upstream attempt starts: it is aborted when the request ends or when `timeoutMs` passes. `second`: a hedge,
   * in flight beside the attempt already begun (at most one).
   */
  beginAttempt(ac: AbortController, provider: string, timeoutMs: number, second = false): void {
    if (second) {
      this.second = { ac, provider, timeoutMs, endsAt: performance.now() + timeoutMs };
      if (this.ended) ac.abort(this.ended);
      return;
    }
    this.attempt = ac;
    this.attemptProvider = provider;
    this.attemptTimeoutMs = timeoutMs;
    this.attemptEndsAt = performance.now() + timeoutMs;
    if (this.ended) ac.abort(this.ended); // it ended while this attempt was being set up
  }

  /** A committed stream has no attempt timeout any more (the request deadline still holds). */
  commitAttempt(ac?: AbortController): void {
    if (ac && this.second?.ac === ac) this.second.endsAt = Infinity;
    else this.attemptEndsAt = Infinity;
  }

  endAttempt(ac: AbortController): void {
    if (this.second?.ac === ac) {
      this.second = undefined;
      return;
    }
    if (this.attempt !== ac) return;
    this.attempt = undefined;
    this.attemptEndsAt = Infinity;
  }

  private readEndsAt = Infinity;
  private onReadTimeout: (() => void) | undefined;

  /** Keep the body read's deadline with the others (one watchdog tick late at most): no timer per request. */
  startRead(ms: number, onTimeout: () => void): void {
    this.readEndsAt = performance.now() + ms;
    this.onReadTimeout = onTimeout;
  }

  stopRead(): void {
    this.readEndsAt = Infinity;
    this.onReadTimeout = undefined;
  }

  check(now: number): void {
    if (now >= this.readEndsAt) {
      const fire = this.onReadTimeout;
      this.stopRead();
      fire?.();
    }
    if (this.ended) return;
    if (now >= this.endsAt) this.end(new AlloyError("timeout", `request deadline of ${this.budgetMs / 1000}s exceeded`));
    else if (this.gone?.()) this.end(new AlloyError("cancelled", "client closed the connection"));
    else if (this.attempt && now >= this.attemptEndsAt) {
      const ac = this.attempt;
      this.attemptEndsAt = Infinity;
      ac.abort(new AlloyError("timeout", `provider '${this.attemptProvider}' did not answer within ${this.attemptTimeoutMs / 1000}s`));
    }
    const h = this.second;
    if (h && !this.ended && now >= h.endsAt) {
      h.endsAt = Infinity;
      h.ac.abort(new AlloyError("timeout", `provider '${h.provider}' did not answer within ${h.timeoutMs / 1000}s`));
    }
  }
}
