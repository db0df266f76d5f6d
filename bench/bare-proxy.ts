// The floor for a JSON gateway on this runtime: a bare Bun.serve that parses the request JSON, re-serialises it,
// forwards it with fetch and hands the upstream body (JSON or SSE, streamed) straight back. No routing, no
// validation, no logging. Prints "LISTENING <port>" on stdout when ready.
//   UPSTREAM_URL=http://127.0.0.1:1234 bun bench/bare-proxy.ts [port]
import { exitWithParent } from "./orphan.ts";

const upstream = process.env.UPSTREAM_URL;
if (!upstream) {
  console.error("bare-proxy: UPSTREAM_URL is required");
  process.exit(2);
}
const headers = { "content-type": "application/json" };

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  idleTimeout: 0,
  async fetch(req) {
    if (req.method !== "POST") return new Response("ok");
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return Response.json({ error: { message: "invalid JSON", type: "invalid_request_error" } }, { status: 400 });
    }
    const path = req.url.slice(req.url.indexOf("/", 8));
    const res = await fetch(upstream + path, { method: "POST", headers, body: JSON.stringify(body), signal: req.signal });
    return new Response(res.body, { status: res.status, headers: { "content-type": res.headers.get("content-type") ?? "application/json" } });
  },
});

exitWithParent();
console.log(`LISTENING ${server.port}`);
