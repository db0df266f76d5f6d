import { describe, expect, test } from "bun:test";
import { AlloyError } from "../../src/errors.ts";
import { RequestControl } from "../../src/gateway/control.ts";
import { Watchdog } from "../../src/gateway/watchdog.ts";

const info = () => ({ attempts: 0, retries: 0, failovers: 0 });

describe("Watchdog", () => {
  test("checks every watched item on each sweep, and stops checking removed ones", () => {
    const w = new Watchdog(1000);
    const seen: string[] = [];
    const a = { check: () => seen.push("a") };
    const b = { check: () => seen.push("b") };
    w.add(a);
    w.add(b);
    w.sweep();
    w.delete(a);
    w.sweep();
    w.delete(b);
    expect(seen).toEqual(["a", "b", "b"]);
    expect(w.size).toBe(0);
  });

  test("one item that throws does not stop the others", () => {
    const w = new Watchdog(1000);
    let checked = false;
    w.add({ check: () => { throw new Error("boom"); } });
    w.add({ check: () => (checked = true) });
    w.sweep();
    expect(checked).toBe(true);
  });

  test("its interval fires on its own while something is watched", async () => {
    const w = new Watchdog(5);
    const { promise, resolve } = Promise.withResolvers<number>();
    const item = { check: (now: number) => resolve(now) };
    w.add(item);
    expect(typeof (await promise)).toBe("number");
    w.delete(item);
  });
});

describe("RequestControl", () => {
  test("a passed request deadline ends the request with a timeout and aborts the attempt in flight", () => {
    const c = new RequestControl("r1", 10, info());
    const attempt = new AbortController();
    c.beginAttempt(attempt, "p", 60_000);
    c.check(performance.now() + 5); // not yet
    expect(c.ended).toBeUndefined();
    c.check(performance.now() + 20);
    expect(c.ended?.kind).toBe("timeout");
    expect(c.ended?.message).toContain("request deadline of 0.01s");
    expect(attempt.signal.aborted).toBe(true);
    expect((attempt.signal.reason as AlloyError).kind).toBe("timeout");
  });

  test("the attempt timeout aborts only the attempt; the request goes on", () => {
    const c = new RequestControl("r2", 60_000, info());
    const attempt = new AbortController();
    c.beginAttempt(attempt, "slowprov", 100);
    c.check(performance.now() + 200);
    expect(c.ended).toBeUndefined();
    expect(attempt.signal.aborted).toBe(true);
    const reason = attempt.signal.reason as AlloyError;
    expect(reason.kind).toBe("timeout");
    expect(reason.message).toBe("provider 'slowprov' did not answer within 0.1s");
  });

  test("a committed attempt has no attempt timeout, but still ends with the request", () => {
    const c = new RequestControl("r3", 60_000, info());
    const attempt = new AbortController();
    c.beginAttempt(attempt, "p", 100);
    c.commitAttempt();
    c.check(performance.now() + 200);
    expect(attempt.signal.aborted).toBe(false);
    c.end(new AlloyError("cancelled", "client closed the connection"));
    expect((attempt.signal.reason as AlloyError).kind).toBe("cancelled");
  });

  test("one attempt controller per request: reused by the next attempt, replaced once aborted or while one holds it", () => {
    const c = new RequestControl("r5", 60_000, info());
    const first = c.attemptController();
    c.beginAttempt(first, "p", 100);
    expect(c.attemptController()).not.toBe(first); // an attempt in flight keeps its own
    c.endAttempt(first);
    const second = c.attemptController();
    expect(second).toBe(first); // a retry after a failed answer: nothing aborted it
    c.beginAttempt(second, "p", 100);
    c.check(performance.now() + 200); // the attempt times out
    c.endAttempt(second);
    const third = c.attemptController();
    expect(third).not.toBe(first);
    expect(third.signal.aborted).toBe(false); // the retry after a timeout starts on a live signal
  });

  test("the client probe ends the request as cancelled", () => {
    let gone = false;
    const c = new RequestControl("r4", 60_000, info(), () => gone);
    c.check(performance.now());
    expect(c.ended).toBeUndefined();
    gone = true;
    c.check(performance.now());
    expect(c.ended?.kind).toBe("cancelled");
  });

  test("the signal is made on demand and carries the first end reason, even when asked for afterwards", () => {
    const c = new RequestControl("r5", 60_000, info());
    const early = c.signal;
    c.end(new AlloyError("timeout", "first"));
    c.end(new AlloyError("cancelled", "second"));
    expect((early.reason as AlloyError).message).toBe("first");
    const late = new RequestControl("r6", 60_000, info());
    late.end(new AlloyError("cancelled", "gone"));
    expect(late.signal.aborted).toBe(true);
    expect((late.signal.reason as AlloyError).kind).toBe("cancelled");
  });

  test("an attempt begun after the request ended is aborted at once; a finished attempt is forgotten", () => {
    const c = new RequestControl("r7", 60_000, info());
    const first = new AbortController();
    c.beginAttempt(first, "p", 1000);
    c.endAttempt(first);
    expect(c.attempt).toBeUndefined();
    c.end(new AlloyError("timeout", "late"));
    expect(first.signal.aborted).toBe(false);
    const second = new AbortController();
    c.beginAttempt(second, "p", 1000);
    expect(second.signal.aborted).toBe(true);
  });
});
