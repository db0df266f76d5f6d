// A collector that is gone (connection refused) or hangs must cost requests nothing: 1,000 requests with tracing on
// take about as long as with tracing off, memory stays bounded, and every span that could not go out is counted in
// alloy_trace_spans_dropped_total.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";

const N = 1000;
const CONCURRENCY = 4;

let off: TestGateway;
let dead: TestGateway;
let hanging: TestGateway;
let hangingServer: ReturnType<typeof Bun.serve>;
const held: Array<() => void> = [];

const gateway = (tracing: string) =>
  startGateway(`
[providers.mock]
type = "mock"
${tracing}
`);

const tracing = (endpoint: string) => `
[observability.tracing]
otlp_endpoint = "${endpoint}"
max_queue_size = 100
export_timeout_secs = 0.3
scheduled_delay_ms = 5
`;

beforeAll(async () => {
  // A port that was just listening and is closed now: exports are refused.
  const gone = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const deadUrl = `http://127.0.0.1:${gone.port}`;
  gone.stop(true);
  // A collector that takes every export and never answers.
  hangingServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>((r) => held.push(() => r(new Response())))});
  off = await gateway("");
  dead = await gateway(tracing(deadUrl));
  hanging = await gateway(tracing(`http://127.0.0.1:${hangingServer.port}`));
});

afterAll(async () => {
  await Promise.all([off?.stop(false), dead?.stop(false), hanging?.stop(false)]);
  for (const r of held) r();
  hangingServer?.stop(true);
});

const BODY = JSON.stringify({ model: "mock/m", messages: [{ role: "user", content: "a few words to echo back" }] });

async function request(g: TestGateway): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${g.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: BODY });
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  await res.arrayBuffer();
  return performance.now() - t;
}

/**
 * `n` requests to each gateway, `CONCURRENCY` workers each sending one to `a` then one to `b`, so whatever else the
 * machine does falls on both alike; resolves with each side's median latency in ms.
 */
async function paired(a: TestGateway, b: TestGateway, n: number): Promise<[number, number]> {
  const la: number[] = [];
  const lb: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        next++;
        la.push(await request(a));
        lb.push(await request(b));
      }
    }),
  );
  const median = (l: number[]) => l.sort((x, y) => x - y)[l.length >> 1]!;
  return [median(la), median(lb)];
}

async function dropped(g: TestGateway): Promise<number> {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  const m = text.match(/^alloy_trace_spans_dropped_total (\d+)$/m);
  if (!m) throw new Error("alloy_trace_spans_dropped_total is missing");
  return Number(m[1]);
}

async function eventually(f: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await f()) return true;
    await Bun.sleep(20); // polling a counter that async export failures raise: there is no event to wait on
  }
  return f();
}

describe("a collector that is down or hangs", () => {
  for (const [name, g] of [
    ["refused", () => dead],
    ["hanging", () => hanging],
  ] as const)
    test(`${name}: ${N} requests as fast as with tracing off (loosely), memory bounded, drops counted`, async () => {
      await paired(off, g(), 100); // warm both up
      const rssBefore = process.memoryUsage.rss();
      const [off_, on] = await paired(off, g(), N);
      const grown = process.memoryUsage.rss() - rssBefore;
      console.log(`${name}: median latency tracing off ${off_.toFixed(3)} ms, on ${on.toFixed(3)} ms (×${(on / off_).toFixed(2)}), rss +${(grown / 1e6).toFixed(1)} MB`);
      expect(on / off_).toBeLessThan(2);
      // 1,100 requests' spans are far more than the queue of 100 holds: nothing can pile up.
      expect(grown).toBeLessThan(96 * 1024 * 1024);
      // Two spans a request (SERVER + CLIENT): at most the queue and one batch in flight are not yet counted.
      expect(await eventually(async () => (await dropped(g())) >= 2 * 1100 - 300, 3000)).toBe(true);
    }, 60_000);

  test("tracing off: the drop counter is there and stays at 0", async () => {
    const text = await (await fetch(`${off.url}/metrics`)).text();
    expect(text).toContain("alloy_trace_spans_dropped_total 0");
  });
});
