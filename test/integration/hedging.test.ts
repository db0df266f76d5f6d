// Hedged requests over real sockets: mock upstreams of chosen latency behind an alias with hedge_after_ms, and the
// same targets without it. Chat JSON, chat streams and /v1/messages; the loser aborted; slots, metrics, access line.
// Then least-latency balancing: its share of traffic, the breaker moving it away and the recovery.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";
import { completion, defaultScript, jsonResponse, openaiError, sseResponse, startOpenAIMock, textChunks, type OpenAIMock, type Script } from "../mocks/openai-upstream.ts";

let slow: OpenAIMock; // provider "first": the primary target
let fast: OpenAIMock; // provider "second": the hedge target (max_concurrent = 1)
let llFast: OpenAIMock;
let llSlow: OpenAIMock;
let gw: TestGateway;
let client: OpenAI;

/** Upstream latency (the mock's, not the test's): answers after `ms`, or at once when the gateway gives up on it. */
const after = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
const answerAfter = (ms: number, text: string): Script => async (c, signal) => {
  await after(ms, signal);
  if (c.body.stream) return sseResponse(textChunks(c.body.model, [text], false));
  return jsonResponse(completion(c.body.model, text));
};

beforeAll(async () => {
  slow = startOpenAIMock();
  fast = startOpenAIMock();
  llFast = startOpenAIMock();
  llSlow = startOpenAIMock();
  gw = await startGateway(`
[server]
timeout_secs = 10
[providers.first]
type = "openai"
api_key = "k1"
base_url = "${slow.url}"
timeout_secs = 5
[providers.second]
type = "openai"
api_key = "k2"
base_url = "${fast.url}"
timeout_secs = 5
max_concurrent = 1
[providers.lfast]
type = "openai"
api_key = "k3"
base_url = "${llFast.url}"
[providers.lslow]
type = "openai"
api_key = "k4"
base_url = "${llSlow.url}"
[governance]
max_retries = 1
backoff_base_ms = 1
backoff_max_ms = 2
breaker_failures = 2
breaker_cooldown_secs = 1
[models.hedged]
targets = ["first/m-first", "second/m-second"]
hedge_after_ms = 80
[models.plain]
targets = ["first/m-first", "second/m-second"]
[models.fastest]
targets = [["lfast/m", "lslow/m"]]
strategy = "least_latency"
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "x", maxRetries: 0 });
});
afterAll(async () => {
  await gw.stop(false);
  for (const m of [slow, fast, llFast, llSlow]) m.stop();
});
afterEach(() => {
  for (const m of [slow, fast, llFast, llSlow]) {
    m.script = defaultScript;
    m.calls.length = 0;
  }
});

async function chat(model: string, extra: Record<string, unknown> = {}) {
  const t = performance.now();
  const { data, response } = await client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], ...extra } as any).withResponse();
  return { content: (data as any).choices[0].message.content as string, ms: performance.now() - t, provider: response.headers.get("x-alloy-provider"), id: response.headers.get("x-request-id")! };
}

async function accessLine(requestId: string) {
  await logsSettled();
  return gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "request" && l.requestId === requestId);
}

async function hedgeCount(outcome: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = text.match(new RegExp(`^alloy_hedges_total\\{alias="hedged",outcome="${outcome}"\\} (\\d+)`, "m"));
  return m ? Number(m[1]) : 0;
}

describe("hedged requests", () => {
  test("chat JSON with a primary 10× slower: the hedge answers, far sooner than without hedging; the loser is aborted", async () => {
    slow.script = answerAfter(500, "slow");
    fast.script = answerAfter(50, "fast");
    const plain = await chat("plain");
    expect(plain.content).toBe("slow");
    expect(fast.calls.length).toBe(0);
    expect(slow.calls[0]!.aborted).toBe(false);

    const wonBefore = await hedgeCount("won");
    const aborted = slow.waitForAbort(2);
    const hedged = await chat("hedged");
    expect(hedged.content).toBe("fast");
    expect(hedged.provider).toBe("second");
    expect(hedged.ms).toBeLessThan(0.5 * plain.ms);
    expect((await aborted).n).toBe(2); // the upstream saw the cancel
    expect(fast.calls[0]!.body.model).toBe("m-second");

    const line = await accessLine(hedged.id);
    expect(line).toMatchObject({ provider: "second", upstreamModel: "m-second", attempts: 2, retries: 0, failovers: 0, hedges: 1, hedgeOutcome: "won" });
    expect((await accessLine(plain.id)).hedgeOutcome).toBeUndefined();
    expect(await hedgeCount("won")).toBe(wonBefore + 1);
    // The loser's slot is free again (the hedge target's only slot, too).
    await waitFor(() => gw.gateway.upstreams.get("first")!.limiter.inFlight === 0, "the loser's slot");
    expect(gw.gateway.upstreams.get("second")!.limiter.inFlight).toBe(0);
  });

  test("no hedge when the primary answers before hedge_after_ms", async () => {
    const r = await chat("hedged");
    expect(r.content).toBe("Hello from mock");
    expect(fast.calls.length).toBe(0);
    const line = await accessLine(r.id);
    expect(line.attempts).toBe(1);
    expect(line.hedges).toBeUndefined();
  });

  test("the primary answers first: the hedge loses and is aborted", async () => {
    slow.script = answerAfter(150, "slow");
    fast.script = answerAfter(3000, "fast");
    const lostBefore = await hedgeCount("lost");
    const aborted = fast.waitForAbort(1);
    const r = await chat("hedged");
    expect(r.content).toBe("slow");
    expect(r.provider).toBe("first");
    expect((await aborted).n).toBe(1);
    expect(await accessLine(r.id)).toMatchObject({ provider: "first", attempts: 2, hedges: 1, hedgeOutcome: "lost" });
    expect(await hedgeCount("lost")).toBe(lostBefore + 1);
  });

  test("a fast failure of the hedge is an ordinary failed attempt: the primary goes on and answers", async () => {
    slow.script = answerAfter(150, "slow");
    fast.script = () => openaiError(500, "boom", "server_error");
    const r = await chat("hedged");
    expect(r.content).toBe("slow");
    expect(slow.calls[0]!.aborted).toBe(false);
    expect(fast.calls.length).toBe(1);
    expect(await accessLine(r.id)).toMatchObject({ provider: "first", attempts: 2, hedgeOutcome: "lost" });
  });

  test("a failure of the primary after the hedge started leaves the hedge running: it answers", async () => {
    slow.script = async (_c, signal) => {
      await after(160, signal); // after the hedge has started
      return openaiError(400, "bad request at the primary");
    };
    fast.script = answerAfter(300, "fast");
    const r = await chat("hedged");
    expect(r.content).toBe("fast");
    expect(await accessLine(r.id)).toMatchObject({ provider: "second", hedgeOutcome: "won" });
  });

  test("a full hedge target is skipped, never queued for", async () => {
    // Hold the hedge target's only slot with a direct request.
    const { promise: held, resolve: release } = Promise.withResolvers<void>();
    fast.script = async (c) => {
      await held;
      return jsonResponse(completion(c.body.model, "held"));
    };
    const holding = chat("second/m-hold");
    await fast.waitForCall(1);
    slow.script = answerAfter(150, "slow");
    const skippedBefore = await hedgeCount("skipped");
    const r = await chat("hedged");
    expect(r.content).toBe("slow");
    expect(fast.calls.length).toBe(1);
    expect(await accessLine(r.id)).toMatchObject({ provider: "first", attempts: 1, hedgeOutcome: "skipped" });
    expect((await accessLine(r.id)).hedges).toBe(0);
    expect(await hedgeCount("skipped")).toBe(skippedBefore + 1);
    release();
    expect((await holding).content).toBe("held");
  });

  test("chat stream: a primary slow to its first chunk is overtaken by the hedge's stream", async () => {
    slow.script = answerAfter(500, "slow");
    fast.script = answerAfter(20, "fast");
    const aborted = slow.waitForAbort(1);
    const t = performance.now();
    const { data: stream, response } = await client.chat.completions.create({ model: "hedged", messages: [{ role: "user", content: "hi" }], stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("fast");
    expect(performance.now() - t).toBeLessThan(400);
    expect(response.headers.get("x-alloy-provider")).toBe("second");
    await aborted;
    expect(await accessLine(response.headers.get("x-request-id")!)).toMatchObject({ stream: true, provider: "second", hedgeOutcome: "won" });
  });

  test("chat stream: no hedge once the primary is streaming, however slow its later chunks", async () => {
    // The first chunk at once, the rest well past hedge_after_ms.
    slow.script = (c, signal) => {
      const frames = textChunks(c.body.model, ["a", "b", "c"], false).map((x) => `data: ${JSON.stringify(x)}\n\n`);
      frames.push("data: [DONE]\n\n");
      const enc = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(enc.encode(frames[0]!));
          await after(250, signal);
          for (const f of frames.slice(1)) controller.enqueue(enc.encode(f));
          controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8" } });
    };
    const { data: stream, response } = await client.chat.completions.create({ model: "hedged", messages: [{ role: "user", content: "hi" }], stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("abc");
    expect(fast.calls.length).toBe(0);
    const line = await accessLine(response.headers.get("x-request-id")!);
    expect(line.hedgeOutcome).toBeUndefined();
    expect(line.attempts).toBe(1);
  });

  test("/v1/messages: the hedge answers in the Anthropic shape", async () => {
    slow.script = answerAfter(500, "slow");
    fast.script = answerAfter(20, "fast");
    const aborted = slow.waitForAbort(1);
    const t = performance.now();
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "hedged", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }),
    });
    const body: any = await res.json();
    expect(res.status).toBe(200);
    expect(body.type).toBe("message");
    expect(body.content[0].text).toBe("fast");
    expect(performance.now() - t).toBeLessThan(400);
    await aborted;
    expect(await accessLine(res.headers.get("x-request-id")!)).toMatchObject({ route: "/v1/messages", provider: "second", hedgeOutcome: "won" });
  });
});

describe("least-latency balancing", () => {
  const served = async (n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await chat("fastest");
      counts[r.provider!] = (counts[r.provider!] ?? 0) + 1;
    }
    return counts;
  };

  test("after warm-up most traffic goes to the deployment with the lower time to first byte", async () => {
    llSlow.script = answerAfter(60, "slow");
    const counts = await served(30);
    expect((counts.lfast ?? 0) / 30).toBeGreaterThanOrEqual(0.8);
  });

  test("a failing fast deployment: the breaker moves traffic away; after the cooldown it gets it back", async () => {
    llSlow.script = answerAfter(60, "slow");
    await served(5); // warm: lfast is known to be fast
    llFast.calls.length = 0;
    llFast.script = () => openaiError(500, "down", "server_error");
    const during = await served(5);
    expect(during).toEqual({ lslow: 5 }); // every request answered, by the other deployment
    expect(llFast.calls.length).toBe(2); // breaker_failures, then out of rotation
    llFast.script = defaultScript;
    // The breaker's cooldown (1 s) is time passing: keep serving until lfast answers again, within a bound.
    let back = 0;
    const started = performance.now();
    while (!back && performance.now() - started < 3000) back = (await served(1)).lfast ?? 0;
    expect(back).toBe(1);
    expect(performance.now() - started).toBeGreaterThan(400); // not before the cooldown
    expect(((await served(10)).lfast ?? 0)).toBeGreaterThanOrEqual(8);
  });
});
