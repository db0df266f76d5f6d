// Access records are handled after the response has gone out (afterResponse), yet a metrics scrape and a shutdown
// still see every finished request.
import { describe, expect, test } from "bun:test";
import { loadConfig } from "../helpers/config.ts";
import { createGateway } from "../../src/gateway/gateway.ts";
import { createApp } from "../../src/http/app.ts";
import type { AccessRecord, RequestObserver } from "../../src/observability/access.ts";
import { createGatewayMetrics } from "../../src/observability/gateway-metrics.ts";
import { createLogger } from "../../src/observability/log.ts";
import { afterResponse, createRequestObserver } from "../../src/observability/observer.ts";
import { writeConfig } from "../helpers/gateway.ts";

const rec = (requestId: string): AccessRecord => ({
  requestId,
  method: "POST",
  route: "/v1/chat/completions",
  status: 200,
  model: "mock/echo",
  provider: "mock",
  attempts: 1,
  retries: 0,
  failovers: 0,
  stream: false,
  durationMs: 1,
});

const nextTurn = () => new Promise((r) => setImmediate(r));

function recording() {
  const seen: string[] = [];
  const inner: RequestObserver = { end: (r) => seen.push(r.requestId) };
  return { seen, inner };
}

describe("afterResponse", () => {
  test("records wait for the end of the turn, then are handled together, in order", async () => {
    const { seen, inner } = recording();
    const o = afterResponse(inner);
    o.end(rec("a"));
    o.end(rec("b"));
    await Promise.resolve(); // microtasks (where a response is still being finished) are not enough
    expect(seen).toEqual([]);
    await nextTurn();
    expect(seen).toEqual(["a", "b"]);
    o.end(rec("c"));
    await nextTurn();
    expect(seen).toEqual(["a", "b", "c"]);
  });

  test("flush() handles what is waiting at once, and nothing twice", async () => {
    const { seen, inner } = recording();
    const o = afterResponse(inner);
    o.end(rec("a"));
    o.flush();
    expect(seen).toEqual(["a"]);
    await nextTurn();
    expect(seen).toEqual(["a"]);
  });

  test("a record whose handling throws neither stops the others nor escapes", async () => {
    const seen: string[] = [];
    const o = afterResponse({
      end: (r) => {
        if (r.requestId === "bad") throw new Error("boom");
        seen.push(r.requestId);
      },
    });
    o.end(rec("a"));
    o.end(rec("bad"));
    o.end(rec("b"));
    expect(() => o.flush()).not.toThrow();
    expect(seen).toEqual(["a", "b"]);
  });

  test("prompt and completion text (debug level) pass straight through", () => {
    const texts: string[] = [];
    const o = afterResponse({ end() {}, text: (id, kind) => texts.push(`${id}:${kind}`) });
    o.text?.("r1", "prompt", []);
    expect(texts).toEqual(["r1:prompt"]);
    expect(afterResponse({ end() {} }).text).toBeUndefined();
  });

  test("a /metrics scrape counts a request whose record is still waiting", async () => {
    const config = await loadConfig({ config: writeConfig('[providers.mock]\ntype = "mock"\n'), port: 0 }, {});
    const metrics = createGatewayMetrics({ config, version: "test" });
    const observer = afterResponse(createRequestObserver(createLogger({ level: "silent", json: true, write() {} }), metrics));
    const app = createApp({ gateway: createGateway(config), observer, metrics });
    observer.end(rec("waiting"));
    const body = await (await app.handle(new Request("http://localhost/metrics"))).text();
    expect(body).toContain('alloy_http_requests_total{route="/v1/chat/completions",status="200"} 1');
  });
});
