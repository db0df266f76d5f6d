// Bytes → server-sent-event frames, incrementally: events may be split across network chunks at any byte.
// Shared by every provider that streams SSE; knows nothing of what the events mean.

export interface SseFrame {
  event: string | undefined;
  data: string;
}

/** Parse one complete event block (the text between blank lines). */
function parseBlock(block: string): SseFrame | null {
  let event: string | undefined;
  let data: string | undefined;
  for (const raw of block.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "" || line.charCodeAt(0) === 58 /* ':' comment */) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
    else if (field === "event") event = value;
  }
  return data === undefined ? null : { event, data };
}

export async function* sseFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buf = "";
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      if (buf.includes("\r")) {
        // A trailing CR may be the first half of a CRLF split across chunks: keep it until the next chunk.
        const tail = buf.endsWith("\r") ? "\r" : "";
        buf = (tail ? buf.slice(0, -1) : buf).replace(/\r\n?/g, "\n") + tail;
      }
      let end: number;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const frame = parseBlock(buf.slice(0, end));
        buf = buf.slice(end + 2);
        if (frame) yield frame;
      }
    }
    buf += decoder.decode();
    const frame = buf.trim() ? parseBlock(buf) : null;
    if (frame) yield frame;
  } finally {
    // Cancelling the reader releases the upstream socket when the consumer stops early.
    reader.cancel().catch(() => {});
  }
}
