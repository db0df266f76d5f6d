// The bench's mock upstream, run as its own process so its CPU use is visible and equal for every target.
// Serves OpenAI Chat Completions (JSON/SSE), Responses (JSON/SSE) and Embeddings (JSON), Anthropic Messages (JSON/SSE) and Bedrock Converse (JSON/eventstream)
// from answers built once at startup. Prints "LISTENING <port>" on stdout when ready.
//   bun bench/upstream.ts [port]
import { exitWithParent } from "./orphan.ts";
import { replies, type Reply } from "./replies.ts";

/** Yield to the event loop between stream events, so each one leaves as its own write, as tokens do from a model. */
const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

function respond(reply: Reply): Response {
  const headers = { "content-type": reply.contentType };
  if (reply.parts.length === 1) return new Response(reply.parts[0], { headers });
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i > 0) await nextTick();
      controller.enqueue(reply.parts[i++]!);
      if (i === reply.parts.length) controller.close();
    },
  });
  return new Response(body, { headers });
}

function notFound(path: string): Response {
  return Response.json({ error: { message: `bench upstream: no route ${path}`, type: "invalid_request_error" } }, { status: 404 });
}

// Every client serialises with JSON.stringify, so the flag has no spaces; a substring test keeps the mock cheap.
const wantsStream = (body: string) => body.includes('"stream":true');

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  idleTimeout: 0,
  async fetch(req) {
    const path = req.url.slice(req.url.indexOf("/", 8));
    if (req.method === "GET") return path === "/health" ? new Response("ok") : notFound(path);
    const body = await req.text();
    if (path === "/v1/chat/completions") return respond(wantsStream(body) ? replies.openaiSse : replies.openaiJson);
    if (path === "/v1/responses") return respond(wantsStream(body) ? replies.responsesSse : replies.responsesJson);
    if (path === "/v1/embeddings") return respond(replies.openaiEmbeddings);
    // The traced Alloy's OTLP collector: spans are taken and dropped.
    if (path === "/v1/traces") return new Response(null, { status: 200 });
    if (path === "/v1/messages") return respond(wantsStream(body) ? replies.anthropicSse : replies.anthropicJson);
    if (path.startsWith("/model/")) {
      if (path.endsWith("/converse-stream")) return respond(replies.bedrockEventStream);
      if (path.endsWith("/converse")) return respond(replies.bedrockJson);
    }
    return notFound(path);
  },
});

exitWithParent();
console.log(`LISTENING ${server.port}`);
