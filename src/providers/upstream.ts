// The HTTP plumbing shared by fetch-based providers: one POST with the right failure classification, and upstream
// error bodies turned into AlloyError without carrying any upstream header along.
import { asAlloyError, upstreamError, type AlloyError } from "../errors.ts";
import { parseRetryAfter } from "../governance/backoff.ts";

/** POST a JSON body; network failures and aborts become AlloyError (the abort reason wins when there is one). */
export function post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Response> {
  // A plain promise chain, not an async function: one less frame on every upstream call.
  return fetch(url, { method: "POST", headers, body, signal }).catch((e: unknown) => {
    throw asAlloyError(signal.aborted ? signal.reason : e);
  });
}

export interface ParsedError {
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
}

/** Read an upstream error response; `parse` pulls message/type out of the provider's error JSON. */
export async function errorFromResponse(
  res: Response,
  provider: string,
  parse: (json: any) => ParsedError | undefined,
): Promise<AlloyError> {
  let text = "";
  try {
    text = await res.text();
  } catch {
    // the body may be cut; the status alone still classifies the failure
  }
  let parsed: ParsedError | undefined;
  try {
    parsed = parse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  const message = parsed?.message || `${provider} returned HTTP ${res.status}${text && !parsed ? `: ${text.slice(0, 200)}` : ""}`;
  return upstreamError(res.status, message, {
    retryAfterMs: parseRetryAfter((h) => res.headers.get(h)),
    upstreamType: parsed?.type,
    param: parsed?.param ?? null,
    // 4xx keep the upstream's own type/code (the client may branch on them); 5xx use ours.
    ...(res.status < 500 && res.status !== 429 && parsed?.type ? { type: parsed.type, code: parsed.code ?? null } : {}),
  });
}

/** An error JSON in OpenAI's shape: `{"error":{"message","type","param","code"}}`. */
export function parseOpenAIError(json: any): ParsedError | undefined {
  const e = json?.error;
  if (!e) return undefined;
  if (typeof e === "string") return { message: e };
  return { message: e.message, type: e.type, code: e.code == null ? null : String(e.code), param: e.param ?? null };
}

