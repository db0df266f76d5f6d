// Hedging inside Dispatcher.run, with an attempt function the test drives by hand: where the hedge goes, who wins,
// what happens to the loser's signal and slot, one hedge per request, and the alias options that turn it on.
import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import { RequestControl } from "../../src/gateway/control.ts";
import { Dispatcher, opened, type AttemptTarget, type DispatchObserver, type Upstream } from "../../src/gateway/dispatch.ts";
import { Router, type Route } from "../../src/gateway/route.ts";
import { Balancer } from "../../src/governance/balance.ts";
import { Limiter } from "../../src/governance/limiter.ts";
import type { Provider } from "../../src/providers/provider.ts";
import { familiesOf, providerModules } from "../../src/providers/registry.ts";
import { loadConfig } from "../helpers/config.ts";
import { writeConfig } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";

interface Call {
  provider: string;
  signal: AbortSignal;
  keep: () => () => void;
  resolve(v: string): void;
  reject(e: unknown): void;
}

function setup(providers: string[], gov: Partial<Record<string, unknown>> = {}) {
  const upstreams = new Map<string, Upstream>(
    providers.map((name) => [name, { provider: { name } as Provider, limiter: new Limiter(name === "full" ? 1 : 4), timeoutMs: 5000 }]),
  );
  const hedges: string[] = [];
  const observer: DispatchObserver = { attempt() {}, retry() {}, failover() {}, hedge: (alias, outcome) => hedges.push(`${alias}:${outcome}`) };
  const d = new Dispatcher(
    upstreams,
    { max_retries: 1, failover_enabled: true, fallback_order: [], backoff_base_ms: 0, backoff_max_ms: 0, breaker_failures: 5, breaker_cooldown_secs: 1, ...gov } as never,
    new Balancer({ failures: 5, cooldownMs: 1000 }),
    observer,
  );
  const calls: Call[] = [];
  const attempt = (t: AttemptTarget, keep: () => () => void) =>
    new Promise<string>((resolve, reject) => calls.push({ provider: t.provider.name, signal: t.signal, keep, resolve, reject }));
  const ctx = new RequestControl("r", 5000, { attempts: 0, retries: 0, failovers: 0 });
  const inFlight = (p: string) => upstreams.get(p)!.limiter.inFlight;
  return { d, calls, attempt, ctx, hedges, inFlight, upstreams };
}

const dep = (provider: string) => ({ provider, model: "m", weight: 1 });
const route = (steps: string[][], hedgeAfterMs = 10): Route => ({ alias: "al", hedgeAfterMs, steps: steps.map((s) => ({ deployments: s.map(dep) })) });
const retryable = () => new AlloyError("server", "boom");

describe("Dispatcher hedging", () => {
  test("in a deployment pool the hedge goes to another deployment of the same target; the winner's answer is returned and the loser aborted, its slot freed", async () => {
    const { d, calls, attempt, ctx, hedges, inFlight } = setup(["a", "b", "c"]);
    const result = d.run(route([["a", "b"], ["c"]]), ctx, attempt);
    await waitFor(() => calls.length === 2, "the hedge");
    const [first, hedge] = calls as [Call, Call];
    expect(new Set([first.provider, hedge.provider])).toEqual(new Set(["a", "b"]));
    hedge.resolve("hedge answer");
    expect(await result).toBe("hedge answer");
    expect(first.signal.aborted).toBe(true);
    expect((first.signal.reason as AlloyError).kind).toBe("cancelled");
    expect(inFlight(first.provider)).toBe(0); // freed at once, not when the loser's call gives up
    expect(hedges).toEqual(["al:won"]);
    expect(ctx.info).toMatchObject({ provider: hedge.provider, attempts: 2, hedges: 1, hedgeOutcome: "won" });
  });

  test("a single target hedges to the next target; with no next target there is no hedge", async () => {
    const one = setup(["a", "b"]);
    const r1 = one.d.run(route([["a"], ["b"]]), one.ctx, one.attempt);
    await waitFor(() => one.calls.length === 2, "the hedge");
    expect(one.calls.map((c) => c.provider)).toEqual(["a", "b"]);
    one.calls[0]!.resolve("first");
    expect(await r1).toBe("first");
    expect(one.calls[1]!.signal.aborted).toBe(true);
    expect(one.hedges).toEqual(["al:lost"]);

    const alone = setup(["a"]);
    const r2 = alone.d.run(route([["a"]]), alone.ctx, alone.attempt);
    await waitFor(() => alone.calls.length === 1, "the call");
    await Bun.sleep(30); // past hedge_after_ms: asserting that nothing happens needs time to pass
    expect(alone.calls.length).toBe(1);
    alone.calls[0]!.resolve("only");
    expect(await r2).toBe("only");
    expect(alone.hedges).toEqual([]);
  });

  test("both fail: the retry loop goes on from the first attempt's failure, and no second hedge is started", async () => {
    const { d, calls, attempt, ctx, hedges } = setup(["a", "b"], { max_retries: 1, failover_enabled: false });
    const result = d.run(route([["a", "b"]]), ctx, attempt);
    await waitFor(() => calls.length === 2, "the hedge");
    calls[1]!.reject(retryable());
    calls[0]!.reject(retryable());
    await waitFor(() => calls.length === 3, "the retry");
    await Bun.sleep(30); // the retry is slow too: still no hedge
    expect(calls.length).toBe(3);
    calls[2]!.resolve("retried");
    expect(await result).toBe("retried");
    expect(hedges).toEqual(["al:lost"]);
    expect(ctx.info).toMatchObject({ attempts: 3, retries: 1, hedges: 1, hedgeOutcome: "lost" });
  });

  test("a hedge target with no free slot is skipped and never queued for", async () => {
    const { d, calls, attempt, ctx, hedges, upstreams, inFlight } = setup(["a", "full"]);
    upstreams.get("full")!.limiter.tryAcquire();
    const result = d.run(route([["a"], ["full"]]), ctx, attempt);
    await waitFor(() => hedges.length === 1, "the hedge decision");
    expect(hedges).toEqual(["al:skipped"]);
    expect(upstreams.get("full")!.limiter.queued).toBe(0);
    calls[0]!.resolve("first");
    expect(await result).toBe("first");
    expect(calls.length).toBe(1);
    expect(inFlight("full")).toBe(1);
    expect(ctx.info).toMatchObject({ attempts: 1, hedgeOutcome: "skipped" });
  });

  test("streams: a loser that had already committed (kept its slot) is released too", async () => {
    const { d, calls, attempt, ctx, inFlight } = setup(["a", "b"]);
    const result = d.run(route([["a"], ["b"]]), ctx, attempt);
    await waitFor(() => calls.length === 2, "the hedge");
    const [a, b] = calls as [Call, Call];
    const releaseB = b.keep();
    a.keep();
    b.resolve("b stream");
    a.resolve("a stream");
    expect(await result).toBe("b stream");
    expect(inFlight("a")).toBe(0);
    expect(inFlight("b")).toBe(1); // the winner's stream holds its slot until it ends
    releaseB();
    expect(inFlight("b")).toBe(0);
  });

  test("streams: a loser whose first item arrives after the winner's is closed (its finally runs), not left suspended", async () => {
    const { d, ctx, inFlight } = setup(["a", "b"]);
    const gates = new Map<string, PromiseWithResolvers<void>>([["a", Promise.withResolvers()], ["b", Promise.withResolvers()]]);
    const closed: string[] = [];
    async function* stream(name: string) {
      try {
        await gates.get(name)!.promise;
        yield `${name}1`;
        yield `${name}2`;
      } finally {
        closed.push(name);
      }
    }
    const started: string[] = [];
    const result = d.run(route([["a"], ["b"]]), ctx, (t, keep) => {
      started.push(t.provider.name);
      return opened(stream(t.provider.name), t, keep);
    });
    await waitFor(() => started.length === 2, "the hedge");
    gates.get("b")!.resolve(); // the hedge answers first and wins
    const won = await result;
    expect(won.first).toBe("b1");
    gates.get("a")!.resolve(); // the loser's first item comes too late
    await waitFor(() => closed.includes("a"), "the loser closed");
    expect(inFlight("a")).toBe(0);
    expect(closed).toEqual(["a"]); // the winner's stream is still open
    await won.rest.return?.();
    expect(closed).toEqual(["a", "b"]);
    expect(inFlight("b")).toBe(0);
  });

  test("the request ending aborts both attempts", async () => {
    const { d, calls, attempt, ctx } = setup(["a", "b"]);
    const result = d.run(route([["a"], ["b"]]), ctx, attempt).catch((e) => e);
    await waitFor(() => calls.length === 2, "the hedge");
    ctx.end(new AlloyError("cancelled", "client closed the connection"));
    expect(calls.every((c) => c.signal.aborted)).toBe(true);
    for (const c of calls) c.reject(c.signal.reason);
    expect(((await result) as AlloyError).kind).toBe("cancelled");
  });
});

describe("alias options", () => {
  const providers = `
[providers.a]
type = "mock"
[providers.b]
type = "mock"
`;
  test("hedge_after_ms and strategy are carried on the route", async () => {
    const config = await loadConfig({ config: writeConfig(`${providers}
[models.h]
targets = ["a/x", "b/y"]
hedge_after_ms = 250
[models.l]
targets = [["a/x", "b/y"]]
strategy = "least_latency"
[models.w]
targets = [["a/x", "b/y"]]
strategy = "weighted"
`) }, {});
    const r = new Router(config, familiesOf(providerModules));
    expect(r.resolve("h")).toMatchObject({ hedgeAfterMs: 250 });
    expect(r.resolve("h").leastLatency).toBeUndefined();
    expect(r.resolve("l")).toMatchObject({ leastLatency: true });
    expect(r.resolve("w").leastLatency).toBeUndefined();
    expect(r.resolve("a/x").hedgeAfterMs).toBeUndefined();
  });

  test("bad values are refused at startup", async () => {
    const bad = (extra: string) => loadConfig({ config: writeConfig(`${providers}\n[models.m]\ntargets = ["a/x"]\n${extra}\n`) }, {});
    await expect(bad("hedge_after_ms = 0")).rejects.toThrow("hedge_after_ms");
    await expect(bad("hedge_after_ms = 1.5")).rejects.toThrow("hedge_after_ms");
    await expect(bad('strategy = "fastest"')).rejects.toThrow("strategy");
  });
});
