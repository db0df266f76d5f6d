// Our event-stream decoder against frames made by the AWS SDK's own codec (@smithy/eventstream-codec): the same
// messages come out however the bytes are split; broken CRCs, oversize frames and cut streams are errors.
import { describe, expect, test } from "bun:test";
import { EventStreamCodec, Int64, type Message, type MessageHeaders } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { EventStreamDecoder, EventStreamError, type EventMessage } from "../../src/providers/bedrock/eventstream.ts";

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const str = (value: string) => ({ type: "string" as const, value });

const messages: Message[] = [
  {
    headers: { ":event-type": str("messageStart"), ":content-type": str("application/json"), ":message-type": str("event") },
    body: fromUtf8(JSON.stringify({ role: "assistant", p: "abcdefgh" })),
  },
  {
    headers: { ":event-type": str("contentBlockDelta"), ":content-type": str("application/json"), ":message-type": str("event") },
    body: fromUtf8(JSON.stringify({ contentBlockIndex: 0, delta: { text: "Grüße 世界 🦀" } })),
  },
  // every header type the format has
  {
    headers: {
      t: { type: "boolean", value: true },
      f: { type: "boolean", value: false },
      byte: { type: "byte", value: -7 },
      short: { type: "short", value: -300 },
      int: { type: "integer", value: 2_000_000 },
      long: { type: "long", value: Int64.fromNumber(-9_007_199_254) },
      bin: { type: "binary", value: new Uint8Array([0, 255, 7]) },
      "ünïcode-name": str("välue ✓"),
      ts: { type: "timestamp", value: new Date(1_700_000_000_123) },
      id: { type: "uuid", value: "0123abcd-4567-4890-8abc-def012345678" },
    },
    body: new Uint8Array([1, 2, 3]),
  },
  { headers: { ":exception-type": str("throttlingException"), ":message-type": str("exception") }, body: fromUtf8('{"message":"slow down"}') },
  { headers: {}, body: new Uint8Array(0) },
];
const frames = messages.map((m) => codec.encode(m));
const all = concat(frames);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The SDK's decoding in a comparable shape (Int64 → bigint). */
function theirs(m: Message) {
  const headers: Record<string, unknown> = {};
  for (const [k, h] of Object.entries(m.headers as MessageHeaders))
    headers[k] = h.type === "long" ? { type: "long", value: BigInt((h.value as Int64).toString()) } : { type: h.type, value: h.value };
  return { headers, payload: [...m.body] };
}
const ours = (m: EventMessage) => ({ headers: m.headers as Record<string, unknown>, payload: [...m.payload] });

function decodeAll(pieces: Uint8Array[], max?: number): EventMessage[] {
  const d = new EventStreamDecoder(max);
  const out: EventMessage[] = [];
  for (const p of pieces) out.push(...d.push(p));
  d.end();
  return out;
}

describe("event-stream decoder", () => {
  test("frames from the SDK's codec decode to the same headers and payloads, every header type included", () => {
    const expected = frames.map((f) => theirs(codec.decode(f)));
    expect(decodeAll([all]).map(ours)).toEqual(expected);
    expect(expected[2]!.headers.long).toEqual({ type: "long", value: -9_007_199_254n });
  });

  test("split at every byte boundary (two pieces), and one byte at a time, the result is the same", () => {
    const expected = frames.map((f) => theirs(codec.decode(f)));
    for (let cut = 0; cut <= all.length; cut++) {
      const got = decodeAll([all.slice(0, cut), all.slice(cut)]).map(ours);
      expect({ cut, got }).toEqual({ cut, got: expected });
    }
    expect(decodeAll([...all].map((b) => new Uint8Array([b]))).map(ours)).toEqual(expected);
  });

  test("payloads decoded from held-back bytes survive later pushes (they are copies, not views of the buffer)", () => {
    const d = new EventStreamDecoder();
    const first = d.push(all.slice(0, frames[0]!.length + 5)); // frame 0 whole, 5 bytes of frame 1
    const second = d.push(all.slice(frames[0]!.length + 5, frames[0]!.length + frames[1]!.length + 3));
    d.push(all.slice(frames[0]!.length + frames[1]!.length + 3));
    expect(toUtf8(first[0]!.payload)).toContain("assistant");
    expect(JSON.parse(toUtf8(second[0]!.payload)).delta.text).toBe("Grüße 世界 🦀");
    expect(d.buffered).toBe(0);
  });

  test("a corrupted prelude CRC is an error, even before the rest of the frame has arrived", () => {
    const bad = frames[1]!.slice();
    bad[9]! ^= 0xff;
    expect(() => decodeAll([bad])).toThrow("prelude CRC mismatch");
    expect(() => new EventStreamDecoder().push(bad.slice(0, 12))).toThrow(EventStreamError);
    // a wrong length is caught by the same CRC
    const len = frames[1]!.slice();
    len[3]! ^= 0x01;
    expect(() => decodeAll([len])).toThrow("prelude CRC mismatch");
  });

  test("a corrupted payload or message CRC is an error", () => {
    const payload = frames[1]!.slice();
    payload[payload.length - 10]! ^= 0x20;
    expect(() => decodeAll([payload])).toThrow("message CRC mismatch");
    const crc = frames[1]!.slice();
    crc[crc.length - 1]! ^= 0x01;
    expect(() => decodeAll([frames[0]!, crc])).toThrow("message CRC mismatch");
  });

  test("a frame whose payload is over the limit is an error as soon as its prelude is in", () => {
    const big = codec.encode({ headers: { ":event-type": str("chunk") }, body: new Uint8Array(2048) });
    expect(decodeAll([big], 2048)).toHaveLength(1);
    expect(() => decodeAll([big], 2047)).toThrow("over the 2047-byte limit");
    const d = new EventStreamDecoder(2047);
    expect(() => d.push(big.slice(0, 12))).toThrow(EventStreamError);
  });

  test("a stream that stops inside a frame is an error at the end; lengths that cannot fit are errors", () => {
    const d = new EventStreamDecoder();
    expect(d.push(all.slice(0, all.length - 3))).toHaveLength(frames.length - 1);
    expect(() => d.end()).toThrow("ended inside a frame");
    // a prelude with a valid CRC but a headers length larger than the frame
    const p = new Uint8Array(16);
    const v = new DataView(p.buffer);
    v.setUint32(0, 16);
    v.setUint32(4, 100);
    v.setUint32(8, Bun.hash.crc32(p.subarray(0, 8)));
    expect(() => new EventStreamDecoder().push(p)).toThrow("do not fit");
  });
});
