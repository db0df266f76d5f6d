// When queued writes go to the database: `flushMs` after the first one, at once when a batch is full, and with a
// growing pause while the database keeps failing (so an outage costs one attempt every few seconds, not a storm).
// The timer is unref'd: a pending flush never keeps the process alive; close() does the last one.

const MAX_BACKOFF_MS = 5000;

export class Flusher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly flushMs: number,
    private readonly run: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Ask for a flush: after flushMs, or right away (`full`) unless the database is failing. */
  soon(full = false): void {
    if (this.stopped) return;
    if (this.timer) {
      if (!full || this.failures > 0) return;
      clearTimeout(this.timer);
    }
    const delay = this.failures > 0 ? Math.min(this.flushMs * 2 ** this.failures, MAX_BACKOFF_MS) : full ? 0 : this.flushMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.now().catch(this.onError);
    }, delay);
    this.timer.unref?.();
  }

  /** Flush now; rejects when the write failed (what it held stays queued and another flush is scheduled). */
  async now(): Promise<void> {
    try {
      await this.run();
      this.failures = 0;
    } catch (e) {
      this.failures++;
      this.soon();
      throw e;
    }
  }

  /** For good: after close() nothing is scheduled again (now() still runs the last flush). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
