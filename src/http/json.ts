// A JSON answer carrying the request's id: how every route but the streams and errors responds.

export function json(body: unknown, requestId: string, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "x-request-id": requestId } });
}
