// Bytes → server-sent-event frames, incrementally: events may be split across network chunks at any byte.
// Shared by every provider that streams SSE; knows nothing of what the events mean. Runs once per streamed token, so
// it scans with indexOf and slices only the values it returns.

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

export async function* sseFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buf = "";
  let heldCR = false;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, STREAM);
      buf = buf ? buf + text : text;
      // CRLF and lone CR end lines too. Only new text can bring a CR, besides one kept back from the last chunk.
      if (heldCR || text.includes("\r")) {
        // A trailing CR may be the first half of a CRLF split across chunks: keep it until the next chunk.
        heldCR = buf.endsWith("\r");
        buf = (heldCR ? buf.slice(0, -1) : buf).replace(/\r\n?/g, "\n") + (heldCR ? "\r" : "");
      }
      let start = 0;
      let end: number;
      while ((end = buf.indexOf("\n\n", start)) >= 0) {
        const frame = parseBlock(buf, start, end);
        start = end + 2;
        if (frame) yield frame;
      }
      if (start) buf = buf.slice(start);
    }
    buf = (buf + decoder.decode()).replace(/\r\n?/g, "\n");
    const frame = buf.trim() ? parseBlock(buf, 0, buf.length) : null;
    if (frame) yield frame;
  } finally {
    // Cancelling the reader releases the upstream socket when the consumer stops early.
    reader.cancel().catch(() => {});
  }
}
