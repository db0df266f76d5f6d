// Reading a request body safely: refused past the size limit before it is read whole (chunked bodies included),
// strict UTF-8, JSON only.
import { AlloyError } from "../errors.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

function tooLarge(limit: number) {
  return new AlloyError("too_large", `Request body is larger than the ${limit}-byte limit (server.max_body_size)`);
}

export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get("content-type");
  if (type && !type.includes("json"))
    throw new AlloyError("bad_request", `Content-Type must be application/json, got '${type.slice(0, 100)}'`, { status: 415, code: "unsupported_media_type" });
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  let bytes: Uint8Array;
  if (declared !== null) {
    bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > limit) throw tooLarge(limit);
  } else {
    // Chunked: count as it arrives and stop reading the moment the limit is crossed.
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (request.body) {
      const reader = request.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          reader.cancel().catch(() => {});
          throw tooLarge(limit);
        }
        chunks.push(value);
      }
    }
    bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
  if (bytes.byteLength === 0) throw new AlloyError("bad_request", "Request body is empty; expected a JSON object");
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new AlloyError("bad_request", "Request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const detail = e instanceof SyntaxError ? `: ${e.message.slice(0, 200)}` : "";
    throw new AlloyError("bad_request", `We could not parse the JSON body of your request${detail}`);
  }
}
