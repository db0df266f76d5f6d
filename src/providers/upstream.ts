// The HTTP plumbing shared by fetch-based providers: one POST with the right failure classification, bounded reads of
// answers and error bodies, and upstream error bodies turned into AlloyError without carrying any upstream header along.
import { AlloyError, upstreamError } from "../errors.ts";
import { parseRetryAfter } from "../governance/backoff.ts";

/** What any upstream may send at most; set once at startup from `server.max_response_size`. */
export interface UpstreamLimits {
  /** Bytes of one answer (JSON body); past it reading stops and the attempt fails with 502. */
  maxResponseSize: number;
  /** Bytes of one stream event; past it (or an event that never ends) the stream ends with the error event. */
  maxEventSize: number;
}

export const DEFAULT_LIMITS: UpstreamLimits = { maxResponseSize: 32 * 1024 * 1024, maxEventSize: 1024 * 1024 };
/** An error body is read only as far as its message needs. */
export const MAX_ERROR_BODY = 64 * 1024;

/** The one short, safe phrase a transport failure is reported with: never the URL, host name or address it hit. */
function transportReason(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown } | undefined;
  const text = `${String(err?.code ?? "")} ${String(err?.message ?? e)}`;
  if (/ECONNREFUSED|ConnectionRefused/i.test(text)) return "connection refused";
  if (/ECONNRESET|ConnectionClosed|socket hang up|EPIPE/i.test(text)) return "connection reset";
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo|DNS/i.test(text)) return "host name could not be resolved";
  if (/ETIMEDOUT|timed? ?out/i.test(text)) return "connection timed out";
  if (/Malformed_HTTP|malformed|invalid http|HPE_/i.test(text)) return "malformed HTTP response";
  if (/CERT|TLS|SSL|self.signed/i.test(text)) return "TLS handshake failed";
  if (/FailedToOpenSocket|EHOSTUNREACH|ENETUNREACH|unreachable/i.test(text)) return "upstream unreachable";
  return "connection error";
}

/** A failure to reach or read from an upstream: retryable, with a message that names no internal address. */
export function transportError(provider: string, e: unknown, what = "upstream connection failed"): AlloyError {
  return new AlloyError("network", `${provider}: ${what} (${transportReason(e)})`, { cause: e });
}

/** POST a JSON body; network failures become retryable AlloyErrors, and an abort's reason wins when there is one. */
export function post(provider: string, url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Response> {
  // A plain promise chain, not an async function: one less frame on every upstream call.
  return fetch(url, { method: "POST", headers, body, signal }).catch((e: unknown) => {
    throw signal.aborted ? signal.reason : transportError(provider, e);
  });
}

function tooLarge(provider: string, max: number): AlloyError {
  return new AlloyError("server", `${provider} sent an answer larger than server.max_response_size (${max} bytes)`, {
    code: "upstream_response_too_large",
  });
}

/** How a bounded read fails, in the caller's words. */
export interface ReadFailure {
  /** The body is, or declares itself, longer than allowed. */
  tooLarge(): unknown;
  /** The connection broke while reading (the caller prefers an abort's own reason). */
  cut(e: unknown): unknown;
}

const EMPTY = new Uint8Array(0);

/**
 * The body's bytes, at most `max`. A declared Content-Length past it is refused before reading (the socket let go);
 * one within it is what the connection will deliver, read natively in one go. An undeclared body is counted as it
 * comes and refused past `max`, or with `truncate` (error bodies: read only as far as a message needs) cut there. A
 * 100 MB answer then costs `max` at most, not 200 MB of RSS.
 */
export async function readBytes(res: Response, max: number, fail: ReadFailure, truncate = false): Promise<Uint8Array> {
  const length = truncate ? null : res.headers.get("content-length");
  if (length !== null && Number(length) > max) {
    res.body?.cancel().catch(() => {});
    throw fail.tooLarge();
  }
  if (!res.body) return EMPTY;
  if (length !== null)
    return res.bytes().catch((e: unknown) => {
      throw fail.cut(e);
    });
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        throw fail.cut(e);
      }
      if (r.done) break;
      size += r.value.byteLength;
      if (size > max) {
        if (!truncate) throw fail.tooLarge();
        parts.push(r.value.subarray(0, r.value.byteLength - (size - max)));
        break;
      }
      parts.push(r.value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, Math.min(size, max));
}

const utf8 = new TextDecoder();

/** The body as text, at most `max` bytes of it (see readBytes); `errorBody` cuts a longer one instead of failing. */
export async function readText(res: Response, max: number, provider: string, signal: AbortSignal, errorBody = false): Promise<string> {
  const fail: ReadFailure = {
    tooLarge: () => tooLarge(provider, max),
    cut: (e) => (signal.aborted ? signal.reason : transportError(provider, e, "the answer was cut off")),
  };
  return utf8.decode(await readBytes(res, max, fail, errorBody));
}

export interface ParsedError {
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
}

/** Read an upstream error response (at most 64 KiB of it); `parse` pulls message/type out of the provider's error JSON. */
export async function errorFromResponse(
  res: Response,
  provider: string,
  parse: (json: any) => ParsedError | undefined,
): Promise<AlloyError> {
  let text = "";
  try {
    text = await readText(res, MAX_ERROR_BODY, provider, new AbortController().signal, true);
  } catch {
    // the body may be cut; the status alone still classifies the failure
  }
  let parsed: ParsedError | undefined;
  try {
    parsed = parse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  const message =
    (typeof parsed?.message === "string" && parsed.message) ||
    `${provider} returned HTTP ${res.status}${text && !parsed ? `: ${text.slice(0, 200)}` : ""}`;
  return upstreamError(res.status, message, {
    retryAfterMs: parseRetryAfter((h) => res.headers.get(h)),
    upstreamType: typeof parsed?.type === "string" ? parsed.type : undefined,
    param: typeof parsed?.param === "string" ? parsed.param : null,
    // 4xx keep the upstream's own type/code (the client may branch on them); 5xx use ours.
    ...(res.status < 500 && res.status !== 429 && typeof parsed?.type === "string" ? { type: parsed.type, code: parsed.code ?? null } : {}),
  });
}

/** An error JSON in OpenAI's shape: `{"error":{"message","type","param","code"}}`. */
export function parseOpenAIError(json: any): ParsedError | undefined {
  const e = json?.error;
  if (!e) return undefined;
  if (typeof e === "string") return { message: e };
  return { message: e.message, type: e.type, code: e.code == null ? null : String(e.code), param: e.param ?? null };
}

/**
 * A successful JSON answer: its text (bounded by `max`) and what it parses to. A failed status is the upstream's
 * error, parsed by `parseError`; a body that is not JSON is the upstream's fault too.
 */
export async function readJson(
  res: Response,
  provider: string,
  max: number,
  signal: AbortSignal,
  parseError: (json: any) => ParsedError | undefined,
): Promise<{ json: unknown; text: string }> {
  const text = await readOk(res, provider, max, signal, parseError);
  return { json: parseJson(text, provider), text };
}

/** An upstream's answer text as JSON; text that is not JSON is the upstream's fault. */
export function parseJson(text: string, provider: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AlloyError("server", `${provider} returned a body that is not JSON`);
  }
}

/** A successful answer's text (bounded by `max`), or the upstream's error. */
export async function readOk(res: Response, provider: string, max: number, signal: AbortSignal, parseError: (json: any) => ParsedError | undefined): Promise<string> {
  if (!res.ok) throw await errorFromResponse(res, provider, parseError);
  return readText(res, max, provider, signal);
}

/** The body of a successful streamed answer, or the upstream's error. */
export async function streamBody(res: Response, provider: string, parseError: (json: any) => ParsedError | undefined): Promise<ReadableStream<Uint8Array>> {
  if (!res.ok) throw await errorFromResponse(res, provider, parseError);
  if (!res.body) throw new AlloyError("server", `${provider} returned an empty stream`);
  return res.body;
}
