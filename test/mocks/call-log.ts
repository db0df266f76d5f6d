// What every mock upstream records: the calls it received, in order, and which of them the gateway aborted — with
// promises to wait on either, so tests synchronise on events instead of sleeping.

export interface LoggedCall {
  n: number;
  headers: Record<string, string>;
  /** Set when the gateway aborted this call (client disconnect, timeout). */
  aborted: boolean;
}

export class CallLog<C extends LoggedCall> {
  readonly calls: C[] = [];
  private readonly callWaiters: Array<{ n: number; resolve: (c: C) => void }> = [];
  private readonly abortWaiters: Array<{ n?: number; resolve: (c: C) => void }> = [];

  /** The request's headers as a plain object. */
  static headersOf(req: Request): Record<string, string> {
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    return headers;
  }
  /** The number the next call will get. */
  get next(): number {
    return this.calls.length + 1;
  }

  /** Record a call and watch its request for the gateway aborting it. */
  add(call: C, signal: AbortSignal): C {
    this.calls.push(call);
    signal.addEventListener(
      "abort",
      () => {
        call.aborted = true;
        for (const w of this.abortWaiters.filter((w) => w.n === undefined || w.n === call.n)) {
          this.abortWaiters.splice(this.abortWaiters.indexOf(w), 1);
          w.resolve(call);
        }
      },
      { once: true },
    );
    for (const w of this.callWaiters.filter((w) => w.n === call.n)) w.resolve(call);
    return call;
  }

  /** Resolves when call number n (1-based) has arrived. */
  waitForCall(n: number): Promise<C> {
    if (this.calls.length >= n) return Promise.resolve(this.calls[n - 1]!);
    return new Promise((resolve) => this.callWaiters.push({ n, resolve }));
  }

  /** Resolves when a call (call number n, if given) has been aborted by the gateway. */
  waitForAbort(n?: number): Promise<C> {
    const done = this.calls.find((c) => c.aborted && (n === undefined || c.n === n));
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => this.abortWaiters.push({ n, resolve }));
  }
}
