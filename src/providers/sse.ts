// Bytes → server-sent-event frames, incrementally: events may be split across network chunks at any byte.
// Shared by every provider that streams SSE; knows nothing of what the events mean. Runs once per streamed token, so
// it scans with indexOf and slices only the values it returns.
import { AlloyError } from "../errors.ts";
import { DEFAULT_LIMITS, transportError } from "./upstream.ts";

export interface SseFrame {
  event: string | undefined;
  data: string;
}

const COLON = 58;
const SPACE = 32;

/** Parse one complete event block: the text of `s` from `start` to `end` (exclusive), lines separated by "\n". */
function parseBlock(s: string, start: number, end: number): SseFrame | null {
  let event: string | undefined;
  let data: string | undefined;
  let pos = start;
  while (pos < end) {
    let nl = s.indexOf("\n", pos);
    if (nl < 0 || nl > end) nl = end;
    if (nl > pos && s.charCodeAt(pos) !== COLON /* a comment */) {
      let colon = s.indexOf(":", pos);
      if (colon < 0 || colon > nl) colon = nl; // a field name alone: its value is ""
      let v = colon + 1;
      if (v < nl && s.charCodeAt(v) === SPACE) v++;
      const value = v < nl ? s.slice(v, nl) : "";
      const len = colon - pos;
      if (len === 4 && s.startsWith("data", pos)) data = data === undefined ? value : `${data}\n${value}`;
      else if (len === 5 && s.startsWith("event", pos)) event = value;
    }
    pos = nl + 1;
  }
  return data === undefined ? null : { event, data };
}

const STREAM = { stream: true } as const;

export interface SseOptions {
  /** Names the upstream in error messages. */
  provider: string;
  /** Bytes one event may take; an event that grows past it (or never ends) fails the stream. */
  maxEventSize: number;
}

const DEFAULT_SSE: SseOptions = { provider: "upstream", maxEventSize: DEFAULT_LIMITS.maxEventSize };

/**
 * Bytes in, complete frames out, synchronously: a chunk yields the frames it completes (all of them at once, so a
 * relay can pass on in one write what arrived in one read). An event past `maxEventSize` is the upstream's fault. The
 * unterminated tail is scanned once, not again with every new chunk: an event that never ends would otherwise cost
 * quadratic CPU (40 MB took 9.6 s).
 */
export class SseSplitter {
  private readonly decoder = new TextDecoder();
  private buf = "";
  private heldCR = false;

  constructor(private readonly o: SseOptions = DEFAULT_SSE) {}

  /** The frames `bytes` completes, in order (often none or one). Call check() after handing them on. */
  push(bytes: Uint8Array): SseFrame[] {
    const text = this.decoder.decode(bytes, STREAM);
    let buf = this.buf;
    // Where a new "\n\n" can start: one character before the new text (its first half may be the old tail's end).
    let scan = buf.length > 0 ? buf.length - 1 : 0;
    buf = buf ? buf + text : text;
    // CRLF and lone CR end lines too. Only new text can bring a CR, besides one kept back from the last chunk.
    if (this.heldCR || text.includes("\r")) {
      // A trailing CR may be the first half of a CRLF split across chunks: keep it until the next chunk.
      const held = (this.heldCR = buf.endsWith("\r"));
      const before = buf.length;
      buf = (held ? buf.slice(0, -1) : buf).replace(/\r\n?/g, "\n") + (held ? "\r" : "");
      if (buf.length !== before) scan = 0; // positions moved: rescan this (rare) CRLF buffer
    }
    const out: SseFrame[] = [];
    let start = 0;
    let end: number;
    while ((end = buf.indexOf("\n\n", Math.max(start, scan))) >= 0) {
      const frame = parseBlock(buf, start, end);
      start = end + 2;
      if (frame) out.push(frame);
    }
    this.buf = start ? buf.slice(start) : buf;
    // The frames completed before the oversized one still go out; check() fails the stream after them.
    if (out.length === 0) this.check();
    return out;
  }

  /** Throws once the unterminated tail is past `maxEventSize`. */
  check(): void {
    if (this.buf.length > this.o.maxEventSize)
      throw new AlloyError("server", `${this.o.provider} sent a stream event larger than ${this.o.maxEventSize} bytes`, { code: "upstream_event_too_large" });
  }

  /** The body ended: a last event without its blank line, if any. */
  end(): SseFrame | null {
    const buf = (this.buf + this.decoder.decode()).replace(/\r\n?/g, "\n");
    this.buf = "";
    return buf.trim() ? parseBlock(buf, 0, buf.length) : null;
  }
}

/**
 * The frames of each read, as they complete (batches are never empty). A read that fails is a transport failure
 * (retryable before the first chunk). Leaving early cancels the reader, which releases the upstream socket.
 */
export async function* sseBatches(body: ReadableStream<Uint8Array>, o: SseOptions = DEFAULT_SSE): AsyncGenerator<SseFrame[]> {
  const split = new SseSplitter(o);
  const reader = body.getReader();
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        throw transportError(o.provider, e, "the stream was cut off");
      }
      if (r.done) break;
      const frames = split.push(r.value);
      if (frames.length) {
        yield frames;
        split.check();
      }
    }
    const last = split.end();
    if (last) yield [last];
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Frames one by one, as they complete (see sseBatches). */
export async function* sseFrames(body: ReadableStream<Uint8Array>, o: SseOptions = DEFAULT_SSE): AsyncGenerator<SseFrame> {
  for await (const frames of sseBatches(body, o)) yield* frames;
}
