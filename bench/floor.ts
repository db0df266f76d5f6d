// The floor for a metering gateway on this runtime (issue #26): a bare Bun.serve doing only what any gateway that
// meters usage must do around the upstream call, and nothing else (no routing, no validation, no limits, no logging).
//   - the request body read as bytes, decoded strictly (fatal TextDecoder) and parsed + re-serialised;
//   - its own AbortController per request, aborted when the client goes;
//   - four upstream headers: content-type, accept, authorization (its own key), x-request-id (a cheap counter);
//   - JSON: the answer read whole, parsed for usage, re-sent with three headers (content-type, x-request-id, one
//     more naming the upstream, as Alloy's x-alloy-provider);
//   - SSE: the bytes relayed as they come while each event is scanned for usage (parsed when it mentions it).
// Prints "LISTENING <port>" on stdout when ready.
//   UPSTREAM_URL=http://127.0.0.1:1234 bun bench/floor.ts [port]
import { exitWithParent } from "./orphan.ts";

const upstream = process.env.UPSTREAM_URL;
if (!upstream) {
  console.error("floor: UPSTREAM_URL is required");
  process.exit(2);
}

let counter = 1e12;
const prefix = `req_${crypto.randomUUID().slice(0, 8)}`;
/** Tokens metered so far: kept so the usage scan cannot be optimised away. */
let metered = 0;

function meter(usage: unknown): void {
  if (!usage || typeof usage !== "object") return;
  const u = usage as Record<string, unknown>;
  for (const k of ["prompt_tokens", "completion_tokens", "input_tokens", "output_tokens"]) if (typeof u[k] === "number") metered += u[k] as number;
}

const badRequest = (message: string) => Response.json({ error: { message, type: "invalid_request_error" } }, { status: 400 });

/** SSE bytes through unchanged; every complete event that mentions usage is parsed for it. */
function relay(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const dec = new TextDecoder();
  let tail = "";
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(bytes, out) {
        out.enqueue(bytes);
        const frames = (tail + dec.decode(bytes, { stream: true })).split("\n\n");
        tail = frames.pop()!;
        for (const f of frames) {
          if (!f.includes('"usage"')) continue;
          const at = f.indexOf("data:");
          if (at < 0) continue;
          try {
            const event = JSON.parse(f.slice(at + 5)) as { usage?: unknown; message?: { usage?: unknown }; response?: { usage?: unknown } };
            meter(event.usage ?? event.message?.usage ?? event.response?.usage);
          } catch {
            // not JSON ([DONE] and the like): nothing to meter
          }
        }
      },
    }),
  );
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  idleTimeout: 0,
  async fetch(req) {
    if (req.method !== "POST") return new Response(`ok ${metered > 0 ? "metered" : ""}`);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(await req.arrayBuffer()));
    } catch {
      return badRequest("invalid JSON");
    }
    const requestId = prefix + counter++;
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    req.signal.addEventListener("abort", onAbort, { once: true });
    const path = req.url.slice(req.url.indexOf("/", 8));
    const res = await fetch(upstream + path, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", authorization: "Bearer sk-floor-fake", "x-request-id": requestId },
      body: JSON.stringify(body),
      signal: ctrl.signal,
    });
    const type = res.headers.get("content-type") ?? "application/json";
    const headers = { "content-type": type, "x-request-id": requestId, "x-floor-upstream": "bench" };
    if (type.startsWith("text/event-stream") && res.body) return new Response(relay(res.body), { status: res.status, headers });
    const text = await res.text();
    req.signal.removeEventListener("abort", onAbort);
    try {
      meter((JSON.parse(text) as { usage?: unknown }).usage);
    } catch {
      // an upstream error page: passed on as it is
    }
    return new Response(text, { status: res.status, headers });
  },
});

exitWithParent();
console.log(`LISTENING ${server.port}`);
