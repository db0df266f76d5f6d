// Native streams (Anthropic Messages, OpenAI Responses) relayed a batch per upstream read: what one read brought goes
// on together, an error event fails the stream only after the events before it, and nothing after a Responses
// terminal event is relayed. Each upstream answer below is one write, so its events arrive in one read.
import { afterAll, describe, expect, test } from "bun:test";
import { AnthropicProvider } from "../../src/providers/anthropic.ts";
import { OpenAIProvider } from "../../src/providers/openai.ts";
import type { SseFrame } from "../../src/providers/sse.ts";

let body = "";
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(body, { headers: { "content-type": "text/event-stream" } }) });
afterAll(() => server.stop(true));
const base = `http://127.0.0.1:${server.port}`;
const sse = (events: Array<[string, object]>) => events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join("");
const opts = () => ({ model: "m", signal: new AbortController().signal, requestId: "r1" });

async function batches(it: AsyncIterable<SseFrame[]>): Promise<{ got: string[][]; error?: string }> {
  const got: string[][] = [];
  try {
    for await (const b of it) got.push(b.map((f) => f.event ?? JSON.parse(f.data).type));
  } catch (e) {
    return { got, error: (e as Error).message };
  }
  return { got };
}

describe("Anthropic messagesStream", () => {
  const p = new AnthropicProvider("anthropic", { type: "anthropic", api_key: "k", base_url: base, anthropic_version: "2023-06-01", default_max_tokens: 16 } as never);
  const start = ["message_start", { type: "message_start", message: { id: "msg_1", usage: { input_tokens: 1, output_tokens: 0 } } }] as [string, object];
  const delta = ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hi" } }] as [string, object];

  test("the events of one read come as one batch, message_stop included", async () => {
    body = sse([start, delta, ["message_stop", { type: "message_stop" }]]);
    expect(await batches(p.messagesStream({}, opts()))).toEqual({ got: [["message_start", "content_block_delta", "message_stop"]] });
  });

  test("an error event: the events before it go on, then the stream fails with the upstream's message", async () => {
    body = sse([start, delta, ["error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }], ["message_stop", { type: "message_stop" }]]);
    const r = await batches(p.messagesStream({}, opts()));
    expect(r.got).toEqual([["message_start", "content_block_delta"]]);
    expect(r.error).toContain("Overloaded");
  });
});

describe("OpenAI responsesStream", () => {
  const p = new OpenAIProvider("openai", { type: "openai", api_key: "k", base_url: `${base}/v1`, responses: "native" } as never);
  const created = ["response.created", { type: "response.created", response: { id: "resp_1" } }] as [string, object];
  const delta = ["response.output_text.delta", { type: "response.output_text.delta", delta: "hi" }] as [string, object];

  test("up to and including the terminal event, in one batch; what follows it is not relayed", async () => {
    body = sse([created, delta, ["response.completed", { type: "response.completed", response: { id: "resp_1" } }], delta]);
    expect(await batches(p.responsesStream({}, opts()))).toEqual({ got: [["response.created", "response.output_text.delta", "response.completed"]] });
  });

  test("an error event: the events before it go on, then the stream fails; [DONE] without a terminal event is a cut", async () => {
    body = sse([created, delta, ["error", { type: "error", message: "rate limited", code: "rate_limit_exceeded" }]]);
    const failed = await batches(p.responsesStream({}, opts()));
    expect(failed.got).toEqual([["response.created", "response.output_text.delta"]]);
    expect(failed.error).toBe("rate limited");
    body = sse([created, delta]) + "data: [DONE]\n\n";
    const cut = await batches(p.responsesStream({}, opts()));
    expect(cut.got).toEqual([["response.created", "response.output_text.delta"]]);
    expect(cut.error).toContain("cut short");
  });
});
