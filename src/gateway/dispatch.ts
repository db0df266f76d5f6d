// Targets × attempts: for each step of a route, take a concurrency slot, call the provider, retry retryable failures
// with backoff, then fail over to the next step — all inside the request deadline. Streams are committed (and can no
// longer be retried) once their first chunk arrives. What an attempt does is the caller's: `run` takes an attempt
// function, so chat, a provider's native operations and embeddings share one governance without knowing wire formats.
// An alias with `hedge_after_ms` may run one hedge: the next target beside a slow first attempt, first answer wins.
import type { GovernanceConfig } from "../config/schema.ts";
import type { Admission, KeyRule } from "../governance/keylimits.ts";
import { AlloyError, asAlloyError } from "../errors.ts";
import { retryDelay, sleep } from "../governance/backoff.ts";
import type { Balancer, Deployment } from "../governance/balance.ts";
import type { Limiter } from "../governance/limiter.ts";
import type { ChatRequest, ChatResponse } from "../openai/schema.ts";
import type { Piece, Provider, Reply } from "../providers/provider.ts";
import type { RequestControl } from "./control.ts";
import type { Route, Step } from "./route.ts";

/** The request a dispatch serves: its deadline, its end (client gone, timeout) and the attempt in flight. */
export type DispatchContext = RequestControl;

/** Side channel for metrics; the dispatcher does not know how they are kept. */
export interface DispatchObserver {
  attempt(provider: string, model: string, ms: number, error: AlloyError | undefined, requestId: string): void;
  retry(provider: string): void;
  failover(from: string, to: string): void;
  /** A hedge on an alias: `won` (it answered first), `lost` (the first attempt did, or neither), `skipped` (no slot). */
  hedge(alias: string, outcome: HedgeOutcome): void;
}

export type HedgeOutcome = "won" | "lost" | "skipped";

export interface Upstream {
  provider: Provider;
  limiter: Limiter;
  /** One more slot of `limiter` now, if free (see CallOptions.extraSlot); built once per provider. */
  extraSlot?: () => (() => void) | undefined;
  timeoutMs: number;
  /** The provider's own rpm/tpm (`[providers.X] rpm`, `tpm`), counted like a key's; absent when it has none. */
  rate?: KeyRule;
}

/** Counts provider rates (the key counters: in this process, or shared in Redis). */
export interface RateCounters {
  admit(rule: KeyRule): Admission | Promise<Admission>;
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
  /** More of the provider's slots for a call that fans out (CallOptions.extraSlot). */
  extraSlot?: () => (() => void) | undefined;
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
  // Ended while its first item was on the way (a hedge that lost, a timeout, the client gone): nobody will read the
  // rest, so the stream is closed now (its finally blocks run, its socket goes) instead of waiting for GC.
  if (target.signal.aborted) {
    void Promise.resolve(it.return?.()).catch(() => {});
    throw asAlloyError(target.signal.reason);
  }
  return { first: first.value, rest: holdSlot(it, keep(), target.signal) };
}

const NOOP: DispatchObserver = { attempt() {}, retry() {}, failover() {}, hedge() {} };

/** One attempt in flight: its result, and how to end it early (the loser of a hedge). */
interface InFlight<T> {
  result: Promise<T>;
  /** Abort it and free its slot at once: another attempt answered first. */
  cancel(reason: AlloyError): void;
}

/** How an attempt of a hedged pair ended; `hedge` says which of the two it was. */
type Settled<T> = { ok: true; value: T; hedge: boolean } | { ok: false; error: AlloyError; hedge: boolean };

function settle<T>(f: InFlight<T>, hedge: boolean): Promise<Settled<T>> {
  return f.result.then(
    (value) => ({ ok: true, value, hedge }),
    (e) => ({ ok: false, error: asAlloyError(e), hedge }),
  );
}

function unwrap<T>(r: Settled<T>): T {
  if (r.ok) return r.value;
  throw r.error;
}

export class Dispatcher {
  /** Where provider rpm/tpm are counted; set at startup once the key counters exist (see server.ts). */
  rates: RateCounters | undefined;

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
    const fastest = route.leastLatency === true;
    let lastError: AlloyError | undefined;
    let prev: Deployment | undefined;
    for (let s = 0; s < steps.length; s++) {
      const deps = steps[s]!.deployments;
      let avoid: Deployment | undefined;
      for (let attempt = 0; attempt <= this.gov.max_retries; attempt++) {
        const dep = this.balancer.pick(deps, avoid, fastest);
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
          if (up.rate && this.rates) await this.admitRate(up, up.rate, this.rates);
          await this.acquire(up, ctx);
          const first = this.launch(up, dep, deps, fastest, ctx, call, false);
          // One hedge per request: once one has started (or was skipped), later attempts run alone.
          if (route.hedgeAfterMs === undefined || info.hedgeOutcome !== undefined) return await first.result;
          return await this.hedged(first, route, steps, s, dep, ctx, call);
        } catch (thrown) {
          e = asAlloyError(thrown);
        }
        // Our own deadline or the client leaving ends everything; so does any failure that is not worth repeating.
        if (ctx.ended) throw e;
        // A provider past its own rpm/tpm is skipped like a busy one: the next target, if the route has one.
        if (e.skipTarget) {
          lastError = e;
          break;
        }
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

  /**
   * Wait for `first`; when it has given nothing after the alias's `hedge_after_ms`, start the next target beside it
   * (only with a free slot at once: a hedge never queues). The first success wins and the other is aborted, its slot
   * freed; a failure of either is an ordinary failed attempt and the other runs on. When both fail, the first
   * attempt's failure goes back to the retry loop, which carries on as if there had been no hedge.
   */
  private async hedged<T>(first: InFlight<T>, route: Route, steps: Step[], s: number, dep: Deployment, ctx: DispatchContext, call: Attempt<T>): Promise<T> {
    const a = settle(first, false);
    // A timer only for hedged aliases, cleared as soon as the first attempt settles (see docs/governance.md).
    let timer: Timer | undefined;
    const due = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, route.hedgeAfterMs)));
    const early = await Promise.race([a, due]);
    clearTimeout(timer);
    if (early) return unwrap(early);
    const next = ctx.ended ? undefined : this.hedgeTarget(steps, s, dep, route.leastLatency === true);
    if (!next) return unwrap(await a);
    const info = ctx.info;
    const alias = route.alias ?? "";
    const up = this.upstreams.get(next.dep.provider)!;
    // A hedge is one more request to its provider: under the provider's own rpm/tpm like any, skipped when refused.
    const rateOk = !up.rate || !this.rates || (await this.admitRate(up, up.rate, this.rates).then(() => true, () => false));
    if (!rateOk || !up.limiter.tryAcquire()) {
      info.hedgeOutcome = "skipped";
      this.observer.hedge(alias, "skipped");
      ctx.trace?.event("alloy.hedge", { "alloy.outcome": "skipped", "alloy.provider": next.dep.provider });
      return unwrap(await a);
    }
    info.hedges = (info.hedges ?? 0) + 1;
    const second = this.launch(up, next.dep, next.pool, route.leastLatency === true, ctx, call, true);
    const b = settle(second, true);
    const r1 = await Promise.race([a, b]);
    const r = r1.ok ? r1 : await (r1.hedge ? a : b);
    const outcome = r.ok && r.hedge ? "won" : "lost";
    info.hedgeOutcome = outcome;
    this.observer.hedge(alias, outcome);
    ctx.trace?.event("alloy.hedge", { "alloy.outcome": outcome, "alloy.provider": next.dep.provider });
    if (r.ok) {
      (r.hedge ? first : second).cancel(new AlloyError("cancelled", "another attempt answered first (hedged request)"));
      if (r.hedge) {
        info.provider = next.dep.provider;
        info.upstreamModel = next.dep.model;
      }
      return r.value;
    }
    return unwrap(await a); // both failed: the first attempt's failure
  }

  /** Where a hedge goes: another deployment of the same target when there is one in rotation, else the next target. */
  private hedgeTarget(steps: Step[], s: number, dep: Deployment, fastest: boolean): { dep: Deployment; pool: Deployment[] } | undefined {
    const deps = steps[s]!.deployments;
    if (deps.length > 1) {
      const other = this.balancer.pick(deps, dep, fastest);
      if (other !== dep && !this.balancer.isOpen(other)) return { dep: other, pool: deps };
    }
    const step = steps[s + 1];
    if (!step) return undefined;
    return { dep: this.balancer.pick(step.deployments, undefined, fastest), pool: step.deployments };
  }

  /** One request under the provider's own rpm/tpm, or a refusal that moves on to the next target. */
  private async admitRate(up: Upstream, rule: KeyRule, rates: RateCounters): Promise<void> {
    const a = await rates.admit(rule);
    if (a.ok) {
      a.release(); // a provider's rate has no concurrency part: nothing is held
      return;
    }
    throw new AlloyError("rate_limit", `provider '${up.provider.name}' is at its ${a.limit} limit (providers.${up.provider.name}.${a.limit})`, {
      retryAfterMs: a.retryAfterMs,
      skipTarget: true,
    });
  }

  /** Queue for a slot of the provider (bounded by the deadline). */
  private async acquire(up: Upstream, ctx: DispatchContext): Promise<void> {
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
  }

  /**
   * Start one attempt on `dep` (one of `pool`) on a slot already taken, under the per-attempt timeout. With
   * `fastest`, its time to first byte (the attempt function resolving) feeds the balancer. `second`: a hedge beside
   * an attempt in flight.
   */
  private launch<T>(
    up: Upstream,
    dep: Deployment,
    pool: Deployment[],
    fastest: boolean,
    ctx: DispatchContext,
    call: Attempt<T>,
    second: boolean,
  ): InFlight<T> {
    // Health is tracked only where there is a choice to make: load-balanced deployments come from config (a bounded
    // set), while a single target may be any `provider/model` a client typed.
    const balanced = pool.length > 1;
    ctx.info.attempts++;
    if (balanced) this.balancer.begin(dep);
    const start = performance.now();
    // The attempt's signal: aborted by its timeout or by the request ending (the request's watchdog does both).
    const ac = second ? new AbortController() : ctx.attemptController();
    ctx.beginAttempt(ac, up.provider.name, up.timeoutMs, second);
    const span = ctx.trace?.attempt(dep.provider, dep.model);
    const sampled = fastest && balanced;
    let settled = false;
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
      ctx.commitAttempt(ac);
      return release;
    };
    const result = (async () => {
      try {
        const v = await call({ provider: up.provider, model: dep.model, signal: ac.signal, requestId: ctx.requestId, headers: span?.headers, extraSlot: up.extraSlot }, keep);
        settled = true;
        outcome = "ok";
        if (sampled) this.balancer.observe(dep, performance.now() - start, pool);
        if (!kept) release();
        return v;
      } catch (e) {
        settled = true;
        // An abort surfaces as whatever the transport threw; its reason (timeout, deadline, client gone) is the truth.
        error = asAlloyError(ac.signal.aborted ? ac.signal.reason : e);
        outcome = error.retryable ? "retryable" : "other";
        release();
        throw error;
      }
    })();
    const cancel = (reason: AlloyError) => {
      if (released) return;
      // Still waiting for its first byte: it is at least this slow, which is worth knowing when picking by latency.
      if (!settled) {
        if (sampled) this.balancer.observe(dep, performance.now() - start, pool);
        error = reason;
      }
      ac.abort(reason);
      release();
    };
    return { result, cancel };
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
