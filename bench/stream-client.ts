// Streamed answers, one at a time: time to first chunk and chunk rate as an SSE client of the dialect sees them.
import { median, percentile } from "./stats.ts";

/** The wire format of a stream: which events carry text, and which one ends it. */
export type Dialect = "openai" | "anthropic" | "responses";

const DIALECTS: Record<Dialect, { delta?: string; end: string }> = {
  // Chat Completions: every data event is a chunk (role, text, finish, usage); `data: [DONE]` ends it.
  openai: { end: "[DONE]" },
  anthropic: { delta: "content_block_delta", end: "message_stop" },
  responses: { delta: "response.output_text.delta", end: "response.completed" },
};

export interface StreamSample {
  /** Request start → first counted event. */
  ttfcMs: number;
  /** Request start → end of the body. */
  totalMs: number;
  /** Counted events: OpenAI data events other than `[DONE]`; Anthropic and Responses text delta events. */
  chunks: number;
  /** Saw the dialect's terminal event (`[DONE]`, `message_stop`, `response.completed`). */
  sawEnd: boolean;
}

/**
 * Counts a dialect's SSE events in a byte stream whose frames may be split or merged arbitrarily across reads. An
 * event's type is its `event:` line, else the `type` of its JSON data.
 */
export class SseCounter {
  private tail = "";
  private readonly want: { delta?: string; end: string };
  chunks = 0;
  sawEnd = false;

  constructor(dialect: Dialect = "openai") {
    this.want = DIALECTS[dialect];
  }

  /** Feed decoded text; returns how many new counted events it completed. */
  push(text: string): number {
    const frames = (this.tail + text).split("\n\n");
    this.tail = frames.pop()!;
    let n = 0;
    for (const f of frames) {
      const lines = f.split("\n");
      const data = lines.find((l) => l.startsWith("data:"))?.slice(5).trim();
      if (data === undefined) continue;
      if (this.want.delta === undefined) {
        if (data === this.want.end) this.sawEnd = true;
        else n++;
        continue;
      }
      const type = lines.find((l) => l.startsWith("event:"))?.slice(6).trim() ?? typeOf(data);
      if (type === this.want.delta) n++;
      else if (type === this.want.end) this.sawEnd = true;
    }
    this.chunks += n;
    return n;
  }
}

function typeOf(data: string): string | undefined {
  try {
    const t = (JSON.parse(data) as { type?: unknown }).type;
    return typeof t === "string" ? t : undefined;
  } catch {
    return undefined;
  }
}

export async function streamOnce(url: string, body: string, dialect: Dialect = "openai", headers: Record<string, string> = {}): Promise<StreamSample> {
  const start = performance.now();
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const counter = new SseCounter(dialect);
  const dec = new TextDecoder();
  let ttfcMs = NaN;
  for await (const bytes of res.body) {
    if (counter.push(dec.decode(bytes, { stream: true })) > 0 && Number.isNaN(ttfcMs)) ttfcMs = performance.now() - start;
  }
  return { ttfcMs, totalMs: performance.now() - start, chunks: counter.chunks, sawEnd: counter.sawEnd };
}

export interface StreamStats {
  ttfcP50Ms: number;
  ttfcP99Ms: number;
  /** Median over streams of chunks ÷ whole-stream time. */
  chunksPerSec: number;
  chunks: number;
}

/** `n` streams back to back (concurrency 1), after one unrecorded stream that warms the connection. */
export async function streamSeries(url: string, body: string, n: number, dialect: Dialect = "openai", headers: Record<string, string> = {}): Promise<StreamStats> {
  await streamOnce(url, body, dialect, headers);
  const samples: StreamSample[] = [];
  for (let i = 0; i < n; i++) samples.push(await streamOnce(url, body, dialect, headers));
  const ttfc = samples.map((s) => s.ttfcMs).sort((a, b) => a - b);
  return {
    ttfcP50Ms: percentile(ttfc, 50),
    ttfcP99Ms: percentile(ttfc, 99),
    chunksPerSec: median(samples.map((s) => s.chunks / (s.totalMs / 1000))),
    chunks: median(samples.map((s) => s.chunks)),
  };
}
