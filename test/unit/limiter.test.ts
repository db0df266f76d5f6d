import { describe, expect, test } from "bun:test";
import { Limiter } from "../../src/governance/limiter.ts";

describe("Limiter (semaphore with FIFO queue)", () => {
  test("grants up to max at once, then queues", async () => {
    const l = new Limiter(2);
    await l.acquire();
    await l.acquire();
    expect(l.inFlight).toBe(2);
    let third = false;
    const p = l.acquire().then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    expect(l.queued).toBe(1);
    l.release();
    await p;
    expect(third).toBe(true);
    expect(l.inFlight).toBe(2);
    expect(l.queued).toBe(0);
  });

  test("waiters are served in arrival order", async () => {
    const l = new Limiter(1);
    await l.acquire();
    const order: number[] = [];
    const ps = [1, 2, 3, 4].map((i) => l.acquire().then(() => order.push(i)));
    for (let i = 0; i < 4; i++) {
      l.release();
      await ps[i];
    }
    expect(order).toEqual([1, 2, 3, 4]);
    l.release();
    expect(l.inFlight).toBe(0);
  });

  test("an aborted waiter leaves the queue and loses no permit", async () => {
    const l = new Limiter(1);
    await l.acquire();
    const ac = new AbortController();
    const gone = l.acquire(ac.signal);
    const next = l.acquire();
    ac.abort(new Error("bye"));
    await expect(gone).rejects.toThrow("bye");
    expect(l.queued).toBe(1);
    l.release(); // must go to `next`, not to the aborted waiter
    await next;
    expect(l.inFlight).toBe(1);
    l.release();
    expect(l.inFlight).toBe(0);
    expect(l.queued).toBe(0);
  });

  test("an already-aborted signal rejects at once without queueing", async () => {
    const l = new Limiter(1);
    await l.acquire();
    const ac = new AbortController();
    ac.abort(new Error("late"));
    await expect(l.acquire(ac.signal)).rejects.toThrow("late");
    expect(l.queued).toBe(0);
  });

  test("release without acquire is a bug and throws", () => {
    expect(() => new Limiter(1).release()).toThrow();
  });

  test("a thousand concurrent acquire/release cycles with random aborts end with every permit free", async () => {
    const l = new Limiter(7);
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let holding = 0;
    let maxHolding = 0;
    const tasks = Array.from({ length: 1000 }, async () => {
      const ac = new AbortController();
      const abortSoon = rand() < 0.3;
      const p = l.acquire(ac.signal);
      if (abortSoon) queueMicrotask(() => ac.abort(new Error("cancel")));
      try {
        await p;
      } catch {
        return;
      }
      holding++;
      maxHolding = Math.max(maxHolding, holding);
      for (let i = 0, n = Math.floor(rand() * 3); i < n; i++) await Promise.resolve();
      holding--;
      l.release();
    });
    await Promise.all(tasks);
    expect(maxHolding).toBeLessThanOrEqual(7);
    expect(maxHolding).toBe(7);
    expect(l.inFlight).toBe(0);
    expect(l.queued).toBe(0);
    // and all 7 permits are usable again
    for (let i = 0; i < 7; i++) expect(l.tryAcquire()).toBe(true);
    expect(l.tryAcquire()).toBe(false);
  });
});
