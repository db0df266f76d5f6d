// Reading a request body safely: refused past the size limit before it is read whole (chunked bodies included),
// within a deadline (a client trickling its body cannot hold a slot), nesting bounded before parsing, strict UTF-8,
// JSON only. Every refusal is a 4xx with a message that names the limit.
import { AlloyError } from "../errors.ts";

/** Deeper than any real request (tool schemas included); keeps the parser and every later walk off deep recursion. */
export const MAX_JSON_DEPTH = 64;
const DEFAULT_TIMEOUT_MS = 30_000;

const decoder = new TextDecoder("utf-8", { fatal: true });

export interface ReadOptions {
  /** The whole body must arrive within this many ms (server.read_timeout_secs). */
  timeoutMs?: number;
  maxDepth?: number;
}

function tooLarge(limit: number) {
  return new AlloyError("too_large", `Request body is larger than the ${limit}-byte limit (server.max_body_size)`);
}

function tooSlow(ms: number) {
  return new AlloyError("bad_request", `Request body did not arrive within ${ms / 1000}s (server.read_timeout_secs)`, {
    status: 408,
    code: "request_timeout",
  });
}

const QUOTE = 0x22, BACKSLASH = 0x5c, LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d;

/**
 * The deepest nesting of `{`/`[` outside strings, stopping as soon as `max` is passed. Works on the raw bytes: every
 * byte of a multi-byte UTF-8 sequence is >= 0x80, so ASCII brackets and quotes are never mistaken inside one.
 */
export function exceedsDepth(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === LBRACE || b === LBRACKET) {
      if (++depth > max) return true;
    } else if (b === RBRACE || b === RBRACKET) depth--;
  }
  return false;
}

const EMPTY = new Uint8Array(0);

/**
 * A body with a declared length (already checked against the limit): Bun reads it natively in one go, which costs far
 * less than pulling it through a stream reader. Raced against the read deadline for clients that trickle it.
 */
async function readDeclared(request: Request, timeoutMs: number): Promise<Uint8Array> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(tooSlow(timeoutMs)), timeoutMs)));
  try {
    return await Promise.race([request.bytes(), late]);
  } catch (e) {
    if (e instanceof AlloyError) throw e;
    throw new AlloyError("bad_request", "Request body could not be read (connection closed or malformed framing)", { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

/** Read the body, counting bytes as they arrive; stops reading the moment the limit or the deadline is passed. */
async function readLimited(request: Request, limit: number, timeoutMs: number): Promise<Uint8Array> {
  if (!request.body) return EMPTY;
  const reader = request.body.getReader();
  let timedOut = false;
  // One timer per request, not a race per chunk: cancelling the reader ends the pending read.
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        if (timedOut) throw tooSlow(timeoutMs);
        throw new AlloyError("bad_request", "Request body could not be read (connection closed or malformed framing)", { cause: e });
      }
      if (timedOut) throw tooSlow(timeoutMs);
      if (r.done) break;
      size += r.value.byteLength;
      if (size > limit) {
        reader.cancel().catch(() => {});
        throw tooLarge(limit);
      }
      chunks.push(r.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

export async function readJsonBody(request: Request, limit: number, opts: ReadOptions = {}): Promise<unknown> {
  const type = request.headers.get("content-type");
  // application/json, application/vnd.x+json, text/json, with or without parameters.
  if (type && !/^[\w.+-]+\/(?:[\w.+-]*[+-])?json\s*(?:;|$)/i.test(type.trim()))
    throw new AlloyError("bad_request", `Content-Type must be application/json, got '${type.slice(0, 100)}'`, { status: 415, code: "unsupported_media_type" });
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const bytes = declared !== null ? await readDeclared(request, timeoutMs) : await readLimited(request, limit, timeoutMs);
  if (bytes.byteLength === 0) throw new AlloyError("bad_request", "Request body is empty; expected a JSON object");
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  if (exceedsDepth(bytes, maxDepth)) throw new AlloyError("bad_request", `Request body is nested deeper than ${maxDepth} levels`);
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
