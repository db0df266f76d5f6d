// Reading a request body safely: refused past the size limit before it is read whole (chunked bodies included),
// within a deadline (a client trickling its body cannot hold a slot), nesting bounded before parsing, strict UTF-8,
// JSON only. Every refusal is a 4xx with a message that names the limit.
import { AlloyError } from "../errors.ts";

/** Deeper than any real request (tool schemas included); keeps the parser and every later walk off deep recursion. */
export const MAX_JSON_DEPTH = 64;
const DEFAULT_TIMEOUT_MS = 30_000;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Calls `onTimeout` once `ms` pass, unless `stopRead` comes first. */
export interface ReadWatch {
  startRead(ms: number, onTimeout: () => void): void;
  stopRead(): void;
}

export interface ReadOptions {
  /** The whole body must arrive within this many ms (server.read_timeout_secs). */
  timeoutMs?: number;
  maxDepth?: number;
  /** Who keeps the read deadline: a model route's request control (no timer of its own); else a timer. */
  watch?: ReadWatch;
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
 * Whether `{`/`[` nest deeper than `max` outside strings, stopping as soon as they do. Works on the raw bytes: every
 * byte of a multi-byte UTF-8 sequence is >= 0x80, so ASCII brackets and quotes are never mistaken inside one.
 * Strings are most of a chat body, so their closing quote is found natively with indexOf (7x faster on 100 KB).
 */
export function exceedsDepth(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === QUOTE) {
      for (;;) {
        i = bytes.indexOf(QUOTE, i + 1);
        if (i < 0) return false; // unterminated: the parser rejects it
        // A quote after an odd run of backslashes is escaped and does not close the string.
        let k = i - 1;
        while (bytes[k] === BACKSLASH) k--;
        if ((i - 1 - k) % 2 === 0) break;
      }
    } else if (b === LBRACE || b === LBRACKET) {
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
function readDeclared(request: Request, timeoutMs: number, watch: ReadWatch): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    watch.startRead(timeoutMs, () => reject(tooSlow(timeoutMs)));
    request.bytes().then(
      (bytes) => {
        watch.stopRead();
        resolve(bytes);
      },
      (e) => {
        watch.stopRead();
        reject(new AlloyError("bad_request", "Request body could not be read (connection closed or malformed framing)", { cause: e }));
      },
    );
  });
}

/** A timer of its own, for readers that have no request control watching them. */
function ownTimer(): ReadWatch {
  let t: ReturnType<typeof setTimeout> | undefined;
  return {
    startRead: (ms, onTimeout) => (t = setTimeout(onTimeout, ms)),
    stopRead: () => clearTimeout(t),
  };
}

/** Read the body, counting bytes as they arrive; stops reading the moment the limit or the deadline is passed. */
async function readLimited(request: Request, limit: number, timeoutMs: number, watch: ReadWatch): Promise<Uint8Array> {
  if (!request.body) return EMPTY;
  const reader = request.body.getReader();
  let timedOut = false;
  // One deadline per request, not a race per chunk: cancelling the reader ends the pending read.
  watch.startRead(timeoutMs, () => {
    timedOut = true;
    reader.cancel().catch(() => {});
  });
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
    watch.stopRead();
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

export async function readJsonBody(request: Request, limit: number, opts: ReadOptions = {}): Promise<unknown> {
  const type = request.headers.get("content-type");
  // application/json, application/vnd.x+json, text/json, with or without parameters.
  if (type && type !== "application/json" && !/^[\w.+-]+\/(?:[\w.+-]*[+-])?json\s*(?:;|$)/i.test(type.trim()))
    throw new AlloyError("bad_request", `Content-Type must be application/json, got '${type.slice(0, 100)}'`, { status: 415, code: "unsupported_media_type" });
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const watch = opts.watch ?? ownTimer();
  const bytes = declared !== null ? await readDeclared(request, timeoutMs, watch) : await readLimited(request, limit, timeoutMs, watch);
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
