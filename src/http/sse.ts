// Pieces → an event stream in the client's dialect: each chunk goes through the dialect's pure stream encoder, and
// what it returns is written as `event:`/`data:` lines. The encoder's `finish` closes a complete stream, its `fail`
// one that broke after it began. Pull-based, so a slow client applies back-pressure upstream instead of buffering,
// and a client that leaves cancels the upstream.
import { asAlloyError, type AlloyError } from "../errors.ts";
import type { SseEvent, StreamEncoder } from "../dialects/dialect.ts";
import type { Usage } from "../openai/schema.ts";
import type { Piece } from "../providers/provider.ts";
import type { SseFrame } from "../providers/sse.ts";


export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-accel-buffering": "no",
} as const;

export interface StreamEnd {
  usage?: Usage;
  error?: AlloyError;
  /** The client went away before the end. */
  cancelled?: boolean;
  finishReason?: string | null;
}

/** Items of any kind (unified pieces, a native upstream's frames) → events, with the same step/finish/fail shape. */
export interface ItemEncoder<T, S> {
  step(state: S, item: T): SseEvent[];
  finish(state: S): SseEvent[];
  fail(state: S, err: AlloyError): SseEvent[];
}

/** A dialect's chunk encoder over pieces: the chunk and, when unchanged, the upstream's bytes for it. */
export function piecesEncoder<S>(e: StreamEncoder<S>): ItemEncoder<Piece, S> {
  return { step: (s, p) => e.step(s, p.chunk, p.raw), finish: e.finish, fail: e.fail };
}

/** What the access line needs of a unified stream, whatever the dialect makes of its chunks. */
export function observePiece(p: Piece, end: StreamEnd): void {
  const c = p.chunk;
  if (c.usage) end.usage = c.usage;
  const fr = c.choices[0]?.finish_reason;
  if (fr) end.finishReason = fr;
}

/** A native upstream's frames, a batch per upstream read, as the events they were (each one's `event:` name kept). */
export function relayedFrames(batch: SseFrame[]): SseEvent[] {
  const out: SseEvent[] = [];
  for (const f of batch) out.push(f.event === undefined ? { data: null, raw: f.data } : { event: f.event, data: null, raw: f.data });
  return out;
}

/** A per-frame observer over batches of frames. */
export const eachFrame =
  (observe: (f: SseFrame, end: StreamEnd) => void) =>
  (batch: SseFrame[], end: StreamEnd): void => {
    for (const f of batch) observe(f, end);
  };

export interface SseOptions<T> {
  /** Reads each item for the access line (usage, finish reason) before it is encoded. */
  observe(item: T, end: StreamEnd): void;
  /** Called once, however the stream ends. */
  onEnd(end: StreamEnd): void;
  /** Called with the first byte on its way to the client. */
  onFirstByte?(): void;
}

/** The events as SSE text; a direct stream's controller encodes strings natively (no TextEncoder pass of ours). */
function write(events: SseEvent[]): string | undefined {
  if (events.length === 0) return undefined;
  if (events.length === 1) {
    const e = events[0]!;
    const data = `data: ${e.raw ?? JSON.stringify(e.data)}\n\n`;
    return e.event === undefined ? data : `event: ${e.event}\n${data}`;
  }
  let text = "";
  for (const e of events) {
    if (e.event !== undefined) text += `event: ${e.event}\n`;
    text += `data: ${e.raw ?? JSON.stringify(e.data)}\n\n`;
  }
  return text;
}

/**
 * A Bun "direct" stream: one loop writes each event to the socket as it comes and waits only when the write says the
 * client is behind (back-pressure), with no queue in between and no flush call per event. It costs ~30% less CPU per
 * stream than a pull-based stream (measured over 50-event streams), which matters on a path that runs once per token.
 */
export function eventsToSse<T, S>(first: T, rest: AsyncIterator<T>, encoder: ItemEncoder<T, S>, state: S, o: SseOptions<T>): ReadableStream<Uint8Array> {
  const end: StreamEnd = {};
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      o.onEnd(end);
    }
  };
  const source = {
    type: "direct" as const,
    async pull(controller: DirectController) {
      try {
        let item = first;
        o.onFirstByte?.();
        for (;;) {
          o.observe(item, end);
          const bytes = write(encoder.step(state, item));
          if (bytes) {
            // Bun sends what was written at the end of the tick (the writes of one tick leave together); a write
            // answers with a promise only when the client is not keeping up, and then we wait (back-pressure).
            const w = controller.write(bytes);
            if (w instanceof Promise) await w;
          }
          if (finished) return; // the client left while we waited
          const r = await rest.next();
          if (r.done) break;
          item = r.value;
        }
        const bytes = write(encoder.finish(state));
        if (bytes) controller.write(bytes);
        controller.close();
        finish();
      } catch (e) {
        // Whatever failed (the upstream, or our own encoding), the upstream side is let go: its slot and socket.
        void Promise.resolve(rest.return?.()).catch(() => {});
        if (finished) return;
        const err = asAlloyError(e);
        end.error = err;
        if (err.kind === "cancelled") end.cancelled = true;
        try {
          const bytes = write(encoder.fail(state, err));
          if (bytes) controller.write(bytes);
          controller.close();
        } catch {
          // the client is already gone
        }
        finish();
      }
    },
    async cancel() {
      end.cancelled = true;
      finish();
      await rest.return?.();
    },
  };
  return new ReadableStream<Uint8Array>(source as never);
}

/** What Bun hands a direct stream's pull: write to the socket (a promise while the client is behind), flush, close. */
interface DirectController {
  write(chunk: string | Uint8Array): number | Promise<number>;
  flush(): number | Promise<number> | void;
  close(): void;
}
