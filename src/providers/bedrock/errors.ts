// Bedrock failures → AlloyError. Error answers name the exception in `x-amzn-errortype` (or `__type` in the body)
// with the HTTP status; stream exception frames carry the same names in camelCase in `:exception-type`; the AWS SDK
// (still used for credentials) throws errors by name. One table decides the kind (and so retry and failover) for all.
// Only the service's message is kept: never headers, keys or the request.
import { AlloyError, upstreamError, type ErrorKind } from "../../errors.ts";
import { own } from "../../util/own.ts";

interface Mapping {
  kind: ErrorKind;
  status: number;
}

/** translation.md's table, plus the stream-only `ModelStreamErrorException` (the docs say: retry the request). */
const BY_NAME: Record<string, Mapping> = {
  ValidationException: { kind: "bad_request", status: 400 },
  AccessDeniedException: { kind: "permission", status: 403 },
  ResourceNotFoundException: { kind: "not_found", status: 404 },
  ModelTimeoutException: { kind: "timeout", status: 408 },
  ThrottlingException: { kind: "rate_limit", status: 429 },
  ModelNotReadyException: { kind: "rate_limit", status: 429 },
  ServiceQuotaExceededException: { kind: "rate_limit", status: 429 },
  ModelErrorException: { kind: "unprocessable", status: 424 },
  ModelStreamErrorException: { kind: "server", status: 502 },
  InternalServerException: { kind: "server", status: 502 },
  ServiceUnavailableException: { kind: "overloaded", status: 503 },
};

/**
 * `throttlingException` (stream frame), `ThrottlingException:http://internal.amazon.com/…` (header) or
 * `com.amazon.coral.service#ThrottlingException` (`__type` in a body) → `ThrottlingException`.
 */
export function exceptionName(raw: string): string {
  const bare = raw.split(":")[0]!;
  const name = bare.slice(bare.lastIndexOf("#") + 1).trim();
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** A Bedrock exception, by name, with the service's message. Unknown names fall back to the HTTP status. */
export function bedrockException(provider: string, rawName: string, message: string | undefined, status?: number): AlloyError {
  const name = exceptionName(rawName);
  const text = message?.trim() || `${provider}: ${name}`;
  const m = own(BY_NAME, name);
  if (m) return new AlloyError(m.kind, text, { status: m.status, upstreamType: name });
  if (status && status >= 400) return upstreamError(status, text, { upstreamType: name });
  return new AlloyError("server", text, { upstreamType: name });
}

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** Anything the SDK call threw (modelled exception, credential failure, socket error) → AlloyError. */
export function fromSdkError(provider: string, e: unknown): AlloyError {
  if (e instanceof AlloyError) return e;
  const err = (e && typeof e === "object" ? e : {}) as SdkErrorShape;
  const name = typeof err.name === "string" ? err.name : "Error";
  const message = typeof err.message === "string" ? err.message : String(e);
  const status = err.$metadata?.httpStatusCode;
  // The SDK could not parse what came back (an HTML page from a proxy, a cut event stream): its message is noise.
  const unreadable = message.includes("Deserialization error");
  // A service exception: the service (or something in front of it) answered with an error status.
  if (err.$fault !== undefined || (status !== undefined && status >= 400))
    return bedrockException(provider, name, unreadable ? `${provider} returned HTTP ${status ?? "error"}` : message, status);
  if (unreadable) return new AlloyError("server", `${provider} sent a response that could not be read: ${message.split("\n")[0]}`, { upstreamType: name });
  if (name === "TimeoutError") return new AlloyError("timeout", `${provider} did not answer in time`);
  // The default credential chain found nothing (or IMDS/SSO failed): a gateway-side problem another target may not
  // have, so it is retryable and lets failover run.
  if (name === "CredentialsProviderError" || name === "TokenProviderError")
    return new AlloyError("server", `${provider}: could not load AWS credentials: ${message}`, { upstreamType: name });
  return new AlloyError("network", `${provider} connection failed: ${message}`, { upstreamType: name });
}

/** A non-2xx Bedrock answer: the exception name from `x-amzn-errortype` or the body's `__type`/`code`, its message. */
export function fromErrorResponse(provider: string, status: number, errorType: string | null, bodyText: string): AlloyError {
  let body: { __type?: unknown; code?: unknown; message?: unknown; Message?: unknown } | undefined;
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (parsed && typeof parsed === "object") body = parsed;
  } catch {
    body = undefined; // an HTML page from a proxy, a cut body: the status alone classifies it
  }
  const str = (v: unknown) => (typeof v === "string" && v.trim() ? v : undefined);
  const name = str(errorType) ?? str(body?.__type) ?? str(body?.code);
  const message = str(body?.message) ?? str(body?.Message) ?? `${provider} returned HTTP ${status}`;
  if (name) return bedrockException(provider, name, message, status);
  return upstreamError(status, message);
}
