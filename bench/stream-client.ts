// Streamed answers, one at a time: time to first chunk and chunk rate as an OpenAI SSE client sees them.
import { median, percentile } from "./stats.ts";

export interface StreamSample {
  /** Request start → first `data:` event. */
  ttfcMs: number;
  /** Request start → end of the body. */
  totalMs: number;
  /** `data:` events other than `[DONE]`. */
  chunks: number;
  sawDone: boolean;
}

/** Counts SSE data events in a byte stream whose frames may be split or merged arbitrarily across reads. */
export class SseCounter {
  private tail = "";
  chunks = 0;
  sawDone = false;

  /** Feed decoded text; returns how many new data events it completed. */
  push(text: string): number {
    const frames = (this.tail + text).split("\n\n");
    this.tail = frames.pop()!;
    let n = 0;
    for (const f of frames) {
      const data = f.split("\n").find((l) => l.startsWith("data:"));
      if (data === undefined) continue;
      if (data.slice(5).trim() === "[DONE]") this.sawDone = true;
      else n++;
    }
    this.chunks += n;
    return n;
  }
}

export async function streamOnce(url: string, body: string): Promise<StreamSample> {
  const start = performance.now();
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const counter = new SseCounter();
  const dec = new TextDecoder();
  let ttfcMs = NaN;
  for await (const bytes of res.body) {
    if (counter.push(dec.decode(bytes, { stream: true })) > 0 && Number.isNaN(ttfcMs)) ttfcMs = performance.now() - start;
  }
  return { ttfcMs, totalMs: performance.now() - start, chunks: counter.chunks, sawDone: counter.sawDone };
}

export interface StreamStats {
  ttfcP50Ms: number;
  ttfcP99Ms: number;
  /** Median over streams of chunks ÷ whole-stream time. */
  chunksPerSec: number;
  chunks: number;
}

/** `n` streams back to back (concurrency 1), after one unrecorded stream that warms the connection. */
export async function streamSeries(url: string, body: string, n: number): Promise<StreamStats> {
  await streamOnce(url, body);
  const samples: StreamSample[] = [];
  for (let i = 0; i < n; i++) samples.push(await streamOnce(url, body));
  const ttfc = samples.map((s) => s.ttfcMs).sort((a, b) => a - b);
  return {
    ttfcP50Ms: percentile(ttfc, 50),
    ttfcP99Ms: percentile(ttfc, 99),
    chunksPerSec: median(samples.map((s) => s.chunks / (s.totalMs / 1000))),
    chunks: median(samples.map((s) => s.chunks)),
  };
}
