// One interval that checks every deadline and liveness condition in flight, instead of a timer, an AbortController
// and an abort listener per request: together those cost ~4.5 µs of CPU a request under load (measured), while a
// Set add/delete costs ~0.1 µs. Deadlines fire up to one tick late, which is nothing next to second-scale timeouts.

/** Something with deadlines: `check` runs once per tick while it is watched, and acts on whatever has expired. */
export interface Watched {
  check(now: number): void;
  /** End it now for `reason` (shutdown). */
  end?(reason: Error): void;
}

export class Watchdog {
  private readonly items = new Set<Watched>();
  private timer: ReturnType<typeof setInterval> | undefined;

  /** @param tickMs how often deadlines are checked (the most they can fire late). */
  constructor(readonly tickMs = 25) {}

  get size(): number {
    return this.items.size;
  }

  add(item: Watched): void {
    this.items.add(item);
    if (this.timer === undefined) {
      // Runs only while something is watched; never keeps the process alive on its own.
      this.timer = setInterval(this.sweep, this.tickMs);
      this.timer.unref?.();
    }
  }

  delete(item: Watched): void {
    this.items.delete(item);
  }

  /** End everything still watched (the shutdown grace is over): each ends with `reason`. */
  endAll(reason: Error): number {
    let n = 0;
    for (const item of this.items) {
      try {
        item.end?.(reason);
        n++;
      } catch {
        // one item's failure must not keep the others open
      }
    }
    return n;
  }

  /** Check everything now (the interval calls this; tests may too). */
  readonly sweep = (): void => {
    const now = performance.now();
    for (const item of this.items) {
      try {
        item.check(now);
      } catch {
        // one item's failure must not stop the others' deadlines
      }
    }
    if (this.items.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  };
}
