// The bench's parsing helpers: load tool output, percentiles, SSE event counting, /proc status.
import { describe, expect, test } from "bun:test";
import { parseOhaResult, parseWrkResult, wrkScript } from "../../bench/load.ts";
import { cpuMicros, parseProcStatus } from "../../bench/procs.ts";
import { median, percentile, summarize } from "../../bench/stats.ts";
import { SseCounter } from "../../bench/stream-client.ts";

describe("wrk adapter", () => {
  test("parses the result line our Lua done hook prints, among wrk's own output", () => {
    const stdout = [
      "Running 4s test @ http://127.0.0.1:1234/v1/chat/completions",
      "  1 threads and 64 connections",
      'BENCH_RESULT {"requests":80000,"duration_us":4000000,"errors":3,"non2xx":2,"p50_us":750,"p99_us":2500}',
      "Requests/sec:  20000.00",
    ].join("\n");
    expect(parseWrkResult(stdout)).toEqual({ requests: 80000, seconds: 4, rps: 20000, p50Ms: 0.75, p99Ms: 2.5, errors: 3, non2xx: 2 });
  });

  test("a missing result line is an error that shows what wrk printed", () => {
    expect(() => parseWrkResult("unable to connect to 127.0.0.1:1 Connection refused")).toThrow(/Connection refused/);
  });

  test("extra headers (a gateway key) go into the script", () => {
    expect(wrkScript("{}", { authorization: "Bearer k" })).toContain('wrk.headers["authorization"] = "Bearer k"\n');
  });

  test("the script embeds the body verbatim, even when it contains Lua's long-bracket terminator", () => {
    const body = JSON.stringify({ messages: [{ role: "user", content: "a]]b]=]c" }] });
    const script = wrkScript(body);
    expect(script).toContain('wrk.method = "POST"');
    expect(script).toContain("[==[" + body + "]==]");
  });
});

describe("oha adapter", () => {
  test("reads requests from the status distribution and converts seconds to ms", () => {
    const json = JSON.stringify({
      summary: { successRate: 1, total: 2, slowest: 0.01, fastest: 0.0001, average: 0.001, requestsPerSec: 5001 },
      latencyPercentiles: { p10: 0.0001, p50: 0.0005, p99: 0.004 },
      statusCodeDistribution: { "200": 9990, "502": 10 },
      errorDistribution: { "connection closed": 4 },
    });
    const r = parseOhaResult(json);
    expect(r).toMatchObject({ requests: 10000, seconds: 2, rps: 5000, errors: 4, non2xx: 10 });
    expect(r.p50Ms).toBeCloseTo(0.5);
    expect(r.p99Ms).toBeCloseTo(4);
  });
});

describe("stats", () => {
  test("nearest-rank percentile", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  test("median ignores rounds that produced no number", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, NaN, 2, 3])).toBe(2.5);
    expect(median([NaN])).toBeNaN();
  });

  test("summarize turns raw latencies into a LoadResult", () => {
    expect(summarize([3, 1, 2, 4], 2, 1, 0)).toEqual({ requests: 4, seconds: 2, rps: 2, p50Ms: 2, p99Ms: 4, errors: 1, non2xx: 0 });
  });
});

describe("SseCounter", () => {
  test("counts data events across arbitrary splits and notes [DONE] without counting it", () => {
    const text = 'data: {"a":1}\n\ndata: {"a":2}\n\n: keep-alive\n\nevent: x\ndata: {"a":3}\n\ndata: [DONE]\n\n';
    for (const step of [1, 3, 7, text.length]) {
      const c = new SseCounter();
      let seen = 0;
      for (let i = 0; i < text.length; i += step) seen += c.push(text.slice(i, i + step));
      expect(seen).toBe(3);
      expect(c.chunks).toBe(3);
      expect(c.sawEnd).toBe(true);
    }
  });

  test("Anthropic: counts content_block_delta events and notes message_stop, by event line or data type", () => {
    const ev = (type: string) => `event: ${type}\ndata: {"type":"${type}"}\n\n`;
    const text = ev("message_start") + ev("content_block_start") + ev("ping") + ev("content_block_delta") + `data: {"type":"content_block_delta"}\n\n` + ev("message_delta");
    const c = new SseCounter("anthropic");
    for (let i = 0; i < text.length; i += 5) c.push(text.slice(i, i + 5));
    expect(c.chunks).toBe(2);
    expect(c.sawEnd).toBe(false);
    c.push(ev("message_stop"));
    expect(c.sawEnd).toBe(true);
  });

  test("Responses: counts response.output_text.delta events and notes response.completed", () => {
    const ev = (type: string) => `event: ${type}\ndata: {"type":"${type}","sequence_number":0}\n\n`;
    const c = new SseCounter("responses");
    expect(c.push(ev("response.created") + ev("response.output_text.delta") + ev("response.output_text.delta") + ev("response.output_text.done"))).toBe(2);
    expect(c.sawEnd).toBe(false);
    c.push(ev("response.completed"));
    expect(c.sawEnd).toBe(true);
    // Chat Completions' [DONE] means nothing to a Responses stream.
    const d = new SseCounter("responses");
    d.push("data: [DONE]\n\n");
    expect(d.sawEnd).toBe(false);
  });

  test("an unterminated last event is not counted", () => {
    const c = new SseCounter();
    c.push('data: {"a":1}\n\ndata: {"a":2}');
    expect(c.chunks).toBe(1);
    expect(c.sawEnd).toBe(false);
  });
});

test("parseProcStatus reads VmRSS and VmHWM in bytes", () => {
  const status = "Name:\talloy\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n";
  expect(parseProcStatus(status)).toEqual({ rss: 40 * 1024 * 1024, hwm: 50 * 1024 * 1024 });
  expect(() => parseProcStatus("Name:\tx\n")).toThrow(/VmRSS/);
});

test("parseProcStatus splits the resident set into anonymous and file-backed when the kernel reports it", () => {
  const status = "VmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nRssAnon:\t    8192 kB\nRssFile:\t   32768 kB\nRssShmem:\t0 kB\n";
  expect(parseProcStatus(status)).toEqual({ rss: 40 * 1024 * 1024, hwm: 50 * 1024 * 1024, anon: 8 * 1024 * 1024, file: 32 * 1024 * 1024 });
});

test("cpuMicros adds utime and stime (clock ticks) after the command name, which may hold spaces and parentheses", () => {
  const fields = Array.from({ length: 20 }, (_, i) => String(i));
  fields[11] = "150"; // utime: the 14th field of the line, the 12th after "(comm)"
  fields[12] = "50";
  expect(cpuMicros(`1234 (bun (x) y) ${fields.join(" ")}`)).toBe(2_000_000);
});
