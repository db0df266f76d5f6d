// Targets × attempts: for each step of a route, take a concurrency slot, call the provider, retry retryable failures
// with backoff, then fail over to the next step — all inside the request deadline. Streams are committed (and can no
// longer be retried) once their first chunk arrives. What an attempt does is the caller's: `run` takes an attempt
// function, so chat, a provider's native operations and embeddings share one governance without knowing wire formats.
import type { GovernanceConfig } from "../config/schema.ts";
import { AlloyError, asAlloyError } from "../errors.ts";
import { retryDelay, sleep } from "../governance/backoff.ts";
import type { Balancer, Deployment } from "../governance/balance.ts";
import type { Limiter } from "../governance/limiter.ts";
import type { ChatRequest, ChatResponse } from "../openai/schema.ts";
import type { Piece, Provider, Reply } from "../providers/provider.ts";
import type { RequestControl } from "./control.ts";
import type { Route } from "./route.ts";

export type { DispatchInfo } from "./control.ts";
/** The request a dispatch serves: its deadline, its end (client gone, timeout) and the attempt in flight. */
export type DispatchContext = RequestControl;

/** Side channel for metrics; the dispatcher does not know how they are kept. */
export interface DispatchObserver {
  attempt(provider: string, model: string, ms: number, error: AlloyError | undefined, requestId: string): void;
  retry(provider: string): void;
  failover(from: string, to: string): void;
}

export interface Upstream {
  provider: Provider;
  limiter: Limiter;
  timeoutMs: number;
}

/** A stream that already produced its first item; iterate it to the end (or return() it) to free the slot. */
export interface Opened<T> {
  first: T;
  rest: AsyncIterator<T>;
}
export type OpenStream = Opened<Piece>;

/** What one attempt is given: the provider chosen, the model id there, and the attempt's own abort signal. */
export interface AttemptTarget {
  provider: Provider;
  model: string;
  signal: AbortSignal;
  requestId: string;
  /** Headers for the upstream call (the trace's `traceparent`), when tracing is on. */
  headers?: Record<string, string>;
}

/**
 * One provider call. A stream calls `keep()` once committed (its first item is in): it then owns the slot and gets
 * its release function; `opened` below does that for any async iterable.
 */
export type Attempt<T> = (target: AttemptTarget, keep: () => () => void) => Promise<T>;

/** Open a stream inside an attempt: wait for its first item (failures before it are retryable), then keep the slot. */
export async function opened<T>(iterable: AsyncIterable<T>, target: AttemptTarget, keep: () => () => void): Promise<Opened<T>> {
  const it = iterable[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new AlloyError("server", `${target.provider.name} ended the stream before sending anything`);
  return { first: first.value, rest: holdSlot(it, keep(), target.signal) };
}

const NOOP: DispatchObserver = { attempt() {}, retry() {}, failover() {} };

export class Dispatcher {
  constructor(
    private readonly upstreams: Map<string, Upstream>,
    private readonly gov: GovernanceConfig,
    private readonly balancer: Balancer,
    private readonly observer: DispatchObserver = NOOP,
  ) {}

  chat(req: ChatRequest, route: Route, ctx: DispatchContext): Promise<Reply<ChatResponse>> {
    return this.run(route, ctx, (t) => t.provider.chat(req, t));
  }

  stream(req: ChatRequest, route: Route, ctx: DispatchContext): Promise<OpenStream> {
    return this.run(route, ctx, (t, keep) => opened(t.provider.chatStream(req, t), t, keep));
  }

  /** Run `call` on the route's targets under every rule of governance: slots, retries, backoff, failover, deadline. */
  async run<T>(route: Route, ctx: DispatchContext, call: Attempt<T>): Promise<T> {
    const steps = this.gov.failover_enabled ? route.steps : route.steps.slice(0, 1);
    const info = ctx.info;
    let lastError: AlloyError | undefined;
    let prev: Deployment | undefined;
    for (let s = 0; s < steps.length; s++) {
      const deps = steps[s]!.deployments;
      let avoid: Deployment | undefined;
      for (let attempt = 0; attempt <= this.gov.max_retries; attempt++) {
        const dep = this.balancer.pick(deps, avoid);
        // Health is tracked only where there is a choice to make: load-balanced deployments come from config (a
        // bounded set), while a single target may be any `provider/model` a client typed.
        const balanced = deps.length > 1;
        const up = this.upstreams.get(dep.provider)!;
        if (prev && prev.provider !== dep.provider && attempt === 0) {
          info.failovers++;
          this.observer.failover(prev.provider, dep.provider);
          ctx.trace?.event("alloy.failover", { "alloy.from": prev.provider, "alloy.to": dep.provider });
        } else if (attempt > 0) {
          info.retries++;
          this.observer.retry(dep.provider);
          ctx.trace?.event("alloy.retry", { "alloy.provider": dep.provider, "alloy.attempt": attempt });
        }
        prev = dep;
        info.provider = dep.provider;
        info.upstreamModel = dep.model;
        let e: AlloyError;
        try {
          return await this.attempt(up, dep, balanced, ctx, call);
        } catch (thrown) {
          e = asAlloyError(thrown);
        }
        // Our own deadline or the client leaving ends everything; so does any failure that is not worth repeating.
        if (ctx.ended) throw e;
        if (!e.retryable) throw e;
        lastError = e;
        avoid = dep;
        if (attempt === this.gov.max_retries) break;
        const wait = Math.min(
          retryDelay({ baseMs: this.gov.backoff_base_ms, maxMs: this.gov.backoff_max_ms }, attempt, e.retryAfterMs),
          Math.max(0, ctx.deadline - Date.now()),
        );
        ctx.trace?.event("alloy.backoff", { "alloy.provider": dep.provider, "alloy.delay_ms": wait, "error.type": e.kind });
        try {
          await sleep(wait, ctx.signal);
        } catch (reason) {
          throw asAlloyError(reason);
        }
      }
    }
    throw lastError ?? new AlloyError("unavailable", "no provider could serve the request");
  }

  /** One attempt: queue for a slot (bounded by the deadline), then call under the per-attempt timeout. */
  private async attempt<T>(
    up: Upstream,
    dep: Deployment,
    balanced: boolean,
    ctx: DispatchContext,
    call: Attempt<T>,
  ): Promise<T> {
    try {
      // A free slot is taken synchronously; only a full provider costs a wait.
      if (!up.limiter.tryAcquire()) {
        const queuedAt = ctx.trace && performance.now();
        await up.limiter.acquire(ctx.signal);
        if (queuedAt) ctx.trace?.event("alloy.queued", { "alloy.provider": up.provider.name, "alloy.wait_ms": performance.now() - queuedAt });
      }
    } catch (reason) {
      const r = asAlloyError(reason);
      if (r.kind !== "timeout") throw r;
      throw new AlloyError("rate_limit", `provider '${up.provider.name}' is at its concurrency limit and the request deadline passed while queued`, {
        retryAfterMs: 1000,
      });
    }
    ctx.info.attempts++;
    if (balanced) this.balancer.begin(dep);
    const start = performance.now();
    // The attempt's own signal: aborted by its timeout or by the request ending (the request's watchdog does both).
    const ac = new AbortController();
    ctx.beginAttempt(ac, up.provider.name, up.timeoutMs);
    const span = ctx.trace?.attempt(dep.provider, dep.model);
    let released = false;
    let outcome: "ok" | "retryable" | "other" = "other";
    let error: AlloyError | undefined;
    const release = () => {
      if (released) return;
      released = true;
      ctx.endAttempt(ac);
      up.limiter.release();
      if (balanced) this.balancer.end(dep, outcome);
      this.observer.attempt(dep.provider, dep.model, performance.now() - start, error, ctx.requestId);
      span?.end(error);
    };
    // A committed stream keeps its slot (released when the stream ends) but no longer has a per-attempt deadline;
    // the request deadline still holds.
    let kept = false;
    const keep = () => {
      kept = true;
      ctx.commitAttempt();
      return release;
    };
    try {
      const v = await call({ provider: up.provider, model: dep.model, signal: ac.signal, requestId: ctx.requestId, headers: span?.headers }, keep);
      outcome = "ok";
      if (!kept) release();
      return v;
    } catch (e) {
      // An abort surfaces as whatever the transport threw; its reason (timeout, deadline, client gone) is the truth.
      error = asAlloyError(ac.signal.aborted ? ac.signal.reason : e);
      outcome = error.retryable ? "retryable" : "other";
      release();
      throw error;
    }
  }
}

/** Iterate a committed stream, freeing its slot exactly once: at the end, on error, or when the consumer stops. */
function holdSlot<T>(it: AsyncIterator<T>, release: () => void, signal: AbortSignal): AsyncIterator<T> {
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      release();
    }
  };
  // Plain promise callbacks rather than an async function: this runs once per streamed chunk.
  const onValue = (r: IteratorResult<T>) => {
    if (r.done) finish();
    return r;
  };
  const onError = (e: unknown): never => {
    finish();
    const err = signal.aborted ? asAlloyError(signal.reason) : asAlloyError(e);
    err.afterFirstChunk = true;
    throw err;
  };
  return {
    next() {
      if (done) return Promise.resolve({ done: true, value: undefined });
      try {
        return it.next().then(onValue, onError);
      } catch (e) {
        return Promise.reject(e).catch(onError); // a synchronous throw still rejects, never escapes next()
      }
    },
    async return() {
      finish();
      await it.return?.();
      return { done: true, value: undefined };
    },
  };
}
