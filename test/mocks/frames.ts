// Streamed mock answers: already-encoded frames sent one by one, with the pauses and silences real models have.

export interface StreamOptions {
  /** Pause before each frame, as a model does between tokens. */
  delayMs?: number;
  /** Send this many frames, then hold the stream open until `signal` aborts (a model that goes silent). */
  hangAfter?: number;
  signal?: AbortSignal;
}

/** A streamed response body from already-encoded frames (SSE text or binary event-stream messages). */
export function frameStream(frames: Array<Uint8Array | string>, opts: StreamOptions = {}): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        for (let i = 0; i < frames.length; i++) {
          if (opts.hangAfter === i) {
            await new Promise<void>((resolve) => opts.signal?.addEventListener("abort", () => resolve(), { once: true }));
            controller.close();
            return;
          }
          if (opts.delayMs) await Bun.sleep(opts.delayMs);
          const f = frames[i]!;
          controller.enqueue(typeof f === "string" ? enc.encode(f) : f);
        }
        controller.close();
      } catch {
        // the consumer went away
      }
    },
  });
}
