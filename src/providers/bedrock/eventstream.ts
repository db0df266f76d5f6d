// `application/vnd.amazon.eventstream` frames → messages, incrementally: bytes arrive in whatever pieces the socket
// gives, a frame may span many of them and one piece may hold many frames. Pure: no I/O, nothing async.
//
// A frame: total length (u32) | headers length (u32) | prelude CRC32 (of the 8 bytes before it) | headers | payload |
// message CRC32 (of everything before it). Both CRCs are checked; a frame whose payload is larger than the limit is
// refused as soon as its prelude is in, before its bytes are buffered.

export type HeaderValue =
  | { type: "boolean"; value: boolean }
  | { type: "byte" | "short" | "integer"; value: number }
  | { type: "long"; value: bigint }
  | { type: "binary"; value: Uint8Array }
  | { type: "string"; value: string }
  | { type: "timestamp"; value: Date }
  | { type: "uuid"; value: string };

export interface EventMessage {
  headers: Record<string, HeaderValue>;
  payload: Uint8Array;
}

export class EventStreamError extends Error {
  override name = "EventStreamError";
}

const PRELUDE = 12;
/** Prelude plus the message CRC. */
const OVERHEAD = PRELUDE + 4;
/** The protocol's own limit on the headers section. */
const MAX_HEADERS = 128 * 1024;
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Header names and values repeat on every frame (`:event-type`, `contentBlockDelta`, `application/json`, …): short
 * ones are interned by a hash of their bytes, checked byte for byte, so a frame's headers cost no decoding at all.
 */
const interned = new Map<number, { bytes: Uint8Array; text: string }>();
const MAX_INTERNED = 512;

function text(b: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len > 48) return utf8.decode(b.subarray(start, end));
  let h = len;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + b[i]!) | 0;
  const hit = interned.get(h);
  if (hit && hit.bytes.length === len) {
    let i = 0;
    while (i < len && hit.bytes[i] === b[start + i]) i++;
    if (i === len) return hit.text;
  }
  const s = utf8.decode(b.subarray(start, end));
  if (!hit && interned.size < MAX_INTERNED) interned.set(h, { bytes: b.slice(start, end), text: s });
  return s;
}

const hex = (b: Uint8Array, start: number, end: number) => {
  let s = "";
  for (let i = start; i < end; i++) s += b[i]!.toString(16).padStart(2, "0");
  return s;
};

function malformed(what: string): never {
  throw new EventStreamError(`malformed event-stream frame: ${what}`);
}

function decodeHeaders(b: Uint8Array, view: DataView, start: number, end: number, copy: boolean): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = {};
  let i = start;
  const need = (n: number) => {
    if (i + n > end) malformed("a header runs past the headers section");
  };
  while (i < end) {
    need(1);
    const nameLen = b[i++]!;
    need(nameLen + 1);
    const name = text(b, i, i + nameLen);
    i += nameLen;
    const type = b[i++]!;
    let value: HeaderValue;
    switch (type) {
      case 0:
      case 1:
        value = { type: "boolean", value: type === 0 };
        break;
      case 2:
        need(1);
        value = { type: "byte", value: view.getInt8(i) };
        i += 1;
        break;
      case 3:
        need(2);
        value = { type: "short", value: view.getInt16(i) };
        i += 2;
        break;
      case 4:
        need(4);
        value = { type: "integer", value: view.getInt32(i) };
        i += 4;
        break;
      case 5:
        need(8);
        value = { type: "long", value: view.getBigInt64(i) };
        i += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const len = view.getUint16(i);
        i += 2;
        need(len);
        value = type === 6 ? { type: "binary", value: copy ? b.slice(i, i + len) : b.subarray(i, i + len) } : { type: "string", value: text(b, i, i + len) };
        i += len;
        break;
      }
      case 8:
        need(8);
        value = { type: "timestamp", value: new Date(Number(view.getBigInt64(i))) };
        i += 8;
        break;
      case 9: {
        need(16);
        const h = hex(b, i, i + 16);
        value = { type: "uuid", value: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` };
        i += 16;
        break;
      }
      default:
        malformed(`unknown header type ${type}`);
    }
    headers[name] = value;
  }
  return headers;
}

/** The frame at [off, off + total) of `b`, its prelude already checked. */
function decodeChecked(b: Uint8Array, view: DataView, off: number, total: number, copy: boolean): EventMessage {
  const end = off + total;
  if (Bun.hash.crc32(b.subarray(off, end - 4)) !== view.getUint32(end - 4)) throw new EventStreamError("event-stream message CRC mismatch");
  const headersEnd = off + PRELUDE + view.getUint32(off + 4);
  return {
    headers: decodeHeaders(b, view, off + PRELUDE, headersEnd, copy),
    payload: copy ? b.slice(headersEnd, end - 4) : b.subarray(headersEnd, end - 4),
  };
}

/** The 12-byte prelude at `off`: its CRC, then lengths that a frame can have. Returns the frame's total length. */
function checkPrelude(b: Uint8Array, view: DataView, off: number, maxPayload: number): number {
  if (Bun.hash.crc32(b.subarray(off, off + 8)) !== view.getUint32(off + 8)) throw new EventStreamError("event-stream prelude CRC mismatch");
  const total = view.getUint32(off);
  const headersLen = view.getUint32(off + 4);
  if (total < OVERHEAD || headersLen > total - OVERHEAD) malformed(`lengths ${total}/${headersLen} do not fit`);
  if (headersLen > MAX_HEADERS) malformed(`${headersLen} bytes of headers`);
  const payload = total - OVERHEAD - headersLen;
  if (payload > maxPayload) throw new EventStreamError(`event-stream frame payload of ${payload} bytes is over the ${maxPayload}-byte limit`);
  return total;
}

const EMPTY = new Uint8Array(0);

export class EventStreamDecoder {
  /** Bytes of an unfinished frame: buf[0, len). */
  private buf: Uint8Array = EMPTY;
  private len = 0;

  constructor(readonly maxPayload = DEFAULT_MAX_PAYLOAD) {}

  /** Bytes held back waiting for the rest of a frame. */
  get buffered(): number {
    return this.len;
  }

  /** Feed the next piece; returns the frames it completed. The decoder keeps (copies of) whatever is left over. */
  push(chunk: Uint8Array): EventMessage[] {
    const out: EventMessage[] = [];
    const pending = this.len > 0;
    if (pending) this.append(chunk);
    const data = pending ? this.buf : chunk;
    const end = pending ? this.len : chunk.length;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let off = 0;
    while (end - off >= PRELUDE) {
      const total = checkPrelude(data, view, off, this.maxPayload);
      if (end - off < total) break;
      // Frames decoded out of our own buffer are copied: the buffer is overwritten by the next piece.
      out.push(decodeChecked(data, view, off, total, pending));
      off += total;
    }
    if (pending) {
      this.buf.copyWithin(0, off, end);
      this.len = end - off;
      if (this.len === 0 && this.buf.length > 64 * 1024) this.buf = EMPTY; // let a big frame's buffer go
    } else if (off < end) this.append(chunk.subarray(off));
    return out;
  }

  /** The stream is over: bytes of an unfinished frame mean it was cut. */
  end(): void {
    if (this.len > 0) throw new EventStreamError(`event stream ended inside a frame (${this.len} bytes left over)`);
  }

  private append(bytes: Uint8Array): void {
    const need = this.len + bytes.length;
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2, 4096));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(bytes, this.len);
    this.len = need;
  }
}
