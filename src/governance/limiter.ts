// A counting semaphore with a FIFO wait queue. Waiters leave the queue when their signal aborts; a permit is never
// lost, whatever order grants and aborts happen in.

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  settled: boolean;
  cleanup?: () => void;
}

export class Limiter {
  private active = 0;
  private queue: Array<Waiter | undefined> = [];
  private head = 0;
  private waiting = 0;

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError("Limiter max must be >= 1");
  }

  get inFlight(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiting;
  }

  /** Take a permit now if one is free. */
  tryAcquire(): boolean {
    if (this.active < this.max && this.waiting === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  /**
   * Wait for a permit in arrival order. Rejects with the signal's reason if it aborts first (the caller then owns no
   * permit). Resolves synchronously-fast when a permit is free.
   */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, settled: false };
      if (signal) {
        const onAbort = () => {
          if (w.settled) return;
          w.settled = true;
          this.waiting--;
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        w.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.queue.push(w);
      this.waiting++;
    });
  }

  /** Return a permit: it goes straight to the oldest live waiter, if any. */
  release(): void {
    while (this.head < this.queue.length) {
      const w = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (w.settled) continue; // aborted while queued
      w.settled = true;
      this.waiting--;
      w.cleanup?.();
      this.compact();
      w.resolve(); // the permit passes over without active ever dropping
      return;
    }
    this.compact();
    if (this.active <= 0) throw new Error("Limiter.release without a matching acquire");
    this.active--;
  }

  private compact() {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    } else if (this.head !== 0 && this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
  }
}
