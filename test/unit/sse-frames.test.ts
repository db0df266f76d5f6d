import { describe, expect, test } from "bun:test";
import { sseBatches, sseFrames, type SseFrame } from "../../src/providers/sse.ts";

/** The rules read plainly from the whole text at once (WHATWG event-stream): the incremental parser must agree. */
function reference(text: string): SseFrame[] {
  const out: SseFrame[] = [];
  for (const block of text.replace(/\r\n?/g, "\n").split("\n\n")) {
    let event: string | undefined;
    let data: string | undefined;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
      else if (field === "event") event = value;
    }
    if (data !== undefined) out.push({ event, data });
  }
  return out;
}

/** Feed `text` as UTF-8 cut at the given byte offsets. */
async function parse(text: string, cuts: number[]): Promise<SseFrame[]> {
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      let from = 0;
      for (const at of [...cuts.filter((x) => x > 0 && x < bytes.length).sort((a, b) => a - b), bytes.length]) {
        if (at > from) c.enqueue(bytes.slice(from, at));
        from = at;
      }
      c.close();
    },
  });
  const out: SseFrame[] = [];
  for await (const f of sseFrames(body)) out.push(f);
  return out;
}

describe("sseFrames", () => {
  test("OpenAI data lines, Anthropic event+data pairs, comments, multi-line data and field names alone", async () => {
    const text =
      'data: {"a":1}\n\n' +
      'event: message_start\ndata: {"type":"message_start"}\n\n' +
      ": keep-alive comment\n\n" +
      "data: line one\ndata: line two\n\n" +
      "data\n\n" +
      "event: ping\ndata:no-space\n\n" +
      "data: [DONE]\n\n";
    expect(await parse(text, [])).toEqual([
      { event: undefined, data: '{"a":1}' },
      { event: "message_start", data: '{"type":"message_start"}' },
      { event: undefined, data: "line one\nline two" },
      { event: undefined, data: "" },
      { event: "ping", data: "no-space" },
      { event: undefined, data: "[DONE]" },
    ]);
  });

  test("CRLF and lone CR line ends, including a CRLF split between two reads", async () => {
    const text = "data: a\r\n\r\ndata: b\r\rdata: c\r\n\r\n";
    const whole = await parse(text, []);
    expect(whole.map((f) => f.data)).toEqual(["a", "b", "c"]);
    for (let cut = 1; cut < text.length; cut++) expect(await parse(text, [cut])).toEqual(whole);
  });

  test("a last event without its blank line is still delivered", async () => {
    expect(await parse("data: x\n\ndata: tail", [])).toEqual([
      { event: undefined, data: "x" },
      { event: undefined, data: "tail" },
    ]);
    expect(await parse("data: tail\r", [])).toEqual([{ event: undefined, data: "tail" }]);
  });

  test("agrees with the plain reading on 2,000 random streams cut at random bytes (multi-byte UTF-8 included)", async () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const pieces = ["data: ", "data:", "event: ", "e", "\n", "\n", "\r\n", "\r", ":", " ", "x", "{\"k\":\"é🙂\"}", "data: [DONE]"];
    const differs: string[] = [];
    for (let t = 0; t < 2000; t++) {
      let text = "";
      for (let i = rand(25); i > 0; i--) text += pieces[rand(pieces.length)];
      text += "\n\n";
      const cuts = Array.from({ length: rand(6) }, () => rand(text.length * 2));
      const got = await parse(text, cuts);
      if (JSON.stringify(got) !== JSON.stringify(reference(text))) differs.push(JSON.stringify({ text, cuts }));
    }
    expect(differs).toEqual([]);
  });
});

describe("batches per read", () => {
  const body = (parts: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(new TextEncoder().encode(p));
        c.close();
      },
    });
  const collect = async (parts: string[], maxEventSize = 1024) => {
    const out: string[][] = [];
    try {
      for await (const b of sseBatches(body(parts), { provider: "p", maxEventSize })) out.push(b.map((f) => f.data));
    } catch (e) {
      out.push([`error: ${(e as Error).message}`]);
    }
    return out;
  };

  test("the frames one read completes come together; a read that completes none yields nothing", async () => {
    expect(await collect(["data: a\n\ndata: b\n\ndata: c\n\n", "data: d", "\n\ndata: e\n\n", "data: [DONE]\n\n"])).toEqual([["a", "b", "c"], ["d", "e"], ["[DONE]"]]);
  });

  test("a last event without its blank line is its own batch", async () => {
    expect(await collect(["data: a\n\ndata: b"])).toEqual([["a"], ["b"]]);
  });

  test("an oversized tail fails the stream after the frames completed before it in the same read", async () => {
    expect(await collect([`data: a\n\ndata: ${"x".repeat(2000)}`])).toEqual([["a"], ["error: p sent a stream event larger than 1024 bytes"]]);
    expect(await collect([`data: ${"x".repeat(2000)}`])).toEqual([["error: p sent a stream event larger than 1024 bytes"]]);
  });
});
