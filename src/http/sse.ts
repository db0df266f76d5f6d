// Chunk objects → an OpenAI event stream: `data: {chunk}\n\n` … `data: [DONE]\n\n`, or one error event and a close
// without [DONE] when the upstream fails after the stream began. Pull-based, so a slow client applies back-pressure
// upstream instead of buffering, and a client that leaves cancels the upstream.
import { asAlloyError, type AlloyError } from "../errors.ts";
import type { ChatChunk, Usage } from "../openai/schema.ts";
import type { Piece } from "../providers/provider.ts";

const enc = new TextEncoder();
const DONE = enc.encode("data: [DONE]\n\n");

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

export interface SseOptions {
  /** Whether the client asked for the usage chunk (stream_options.include_usage). */
  includeUsage: boolean;
  /** Called once, however the stream ends. */
  onEnd(end: StreamEnd): void;
  /** Called with the first byte on its way to the client. */
  onFirstByte?(): void;
}

export function chunksToSse(first: Piece, rest: AsyncIterator<Piece>, o: SseOptions): ReadableStream<Uint8Array> {
  const end: StreamEnd = {};
  let pending: Piece | undefined = first;
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      o.onEnd(end);
    }
  };
  /** Keep usage for logs; return what the client should see of this chunk (or nothing). */
  const filter = (c: ChatChunk): ChatChunk | undefined => {
    if (c.usage) end.usage = c.usage;
    const fr = c.choices[0]?.finish_reason;
    if (fr) end.finishReason = fr;
    if (!o.includeUsage && c.choices.length === 0) return undefined;
    return c;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          let piece: Piece;
          if (pending) {
            piece = pending;
            pending = undefined;
            o.onFirstByte?.();
          } else {
            const r = await rest.next();
            if (r.done) {
              controller.enqueue(DONE);
              controller.close();
              finish();
              return;
            }
            piece = r.value;
          }
          const out = filter(piece.chunk);
          if (out) {
            controller.enqueue(enc.encode(`data: ${piece.raw ?? JSON.stringify(out)}\n\n`));
            return;
          }
        }
      } catch (e) {
        const err = asAlloyError(e);
        end.error = err;
        if (err.kind === "cancelled") end.cancelled = true;
        try {
          controller.enqueue(enc.encode(`data: ${JSON.stringify(err.toBody())}\n\n`));
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
  });
}
