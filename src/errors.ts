// One error type for the whole gateway. Providers classify upstream failures into a kind; the kind decides the
// status, the OpenAI error type/code and whether governance may retry or fail over. Only http/errors.ts turns it into
// a response.

export type ErrorKind =
  | "bad_request" // 400, the caller's fault
  | "auth" // 401
  | "permission" // 403
  | "not_found" // 404 (unknown model, upstream 404)
  | "too_large" // 413
  | "unprocessable" // 422 / 424: the caller's input or the model's output, not worth repeating
  | "rate_limit" // 429, retryable
  | "overloaded" // 503 / Anthropic 529, retryable
  | "timeout" // 504 (our deadline) or upstream 408, retryable
  | "network" // connection refused/reset before an answer, retryable
  | "server" // upstream 5xx, retryable
  | "unavailable" // nothing could serve the request (no active provider, queue deadline passed)
  | "shutting_down" // the gateway stopped while the request was still open (shutdown grace passed)
  | "internal" // a fault in Alloy's own code: never retried, never failed over, logged with its stack
  | "cancelled"; // the client went away

const DEFAULTS: Record<ErrorKind, { status: number; type: string; code: string | null; retryable: boolean }> = {
  bad_request: { status: 400, type: "invalid_request_error", code: null, retryable: false },
  auth: { status: 401, type: "authentication_error", code: "invalid_api_key", retryable: false },
  permission: { status: 403, type: "permission_error", code: null, retryable: false },
  not_found: { status: 404, type: "invalid_request_error", code: "model_not_found", retryable: false },
  too_large: { status: 413, type: "invalid_request_error", code: "request_too_large", retryable: false },
  unprocessable: { status: 422, type: "invalid_request_error", code: null, retryable: false },
  rate_limit: { status: 429, type: "rate_limit_exceeded", code: "rate_limit_exceeded", retryable: true },
  overloaded: { status: 503, type: "service_unavailable", code: "service_unavailable", retryable: true },
  timeout: { status: 504, type: "upstream_timeout", code: "upstream_timeout", retryable: true },
  network: { status: 502, type: "upstream_error", code: "upstream_error", retryable: true },
  server: { status: 502, type: "upstream_error", code: "upstream_error", retryable: true },
  unavailable: { status: 503, type: "service_unavailable", code: "service_unavailable", retryable: false },
  shutting_down: { status: 503, type: "service_unavailable", code: "shutting_down", retryable: false },
  internal: { status: 500, type: "server_error", code: "internal_error", retryable: false },
  cancelled: { status: 499, type: "request_cancelled", code: "request_cancelled", retryable: false },
};

let scrubMessage: (message: string) => string = (m) => m;
/**
 * Install the scrubber every client-facing error message goes through (startup does: it knows the secrets and the
 * upstream hosts). An upstream may quote the credential it rejected, or a transport error the address it failed on.
 */
export function setMessageScrubber(fn: (message: string) => string): void {
  scrubMessage = fn;
}

export interface ErrorInit {
  status?: number;
  type?: string;
  code?: string | null;
  param?: string | null;
  retryAfterMs?: number;
  /** The provider's own name for the failure (e.g. overloaded_error, ThrottlingException), for logs. */
  upstreamType?: string;
  /** Governance moves straight on to the next target (a provider past its own rate): no retry on this one. */
  skipTarget?: boolean;
  cause?: unknown;
}

export class AlloyError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  retryAfterMs: number | undefined;
  readonly upstreamType: string | undefined;
  readonly skipTarget: boolean;
  /** Set once a byte of the answer reached the client: nothing may be retried or failed over after that. */
  afterFirstChunk = false;

  constructor(kind: ErrorKind, message: string, init: ErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    const d = DEFAULTS[kind];
    this.kind = kind;
    this.status = init.status ?? d.status;
    this.type = init.type ?? d.type;
    this.code = init.code === undefined ? d.code : init.code;
    this.param = init.param ?? null;
    this.retryAfterMs = init.retryAfterMs;
    this.upstreamType = init.upstreamType;
    this.skipTarget = init.skipTarget === true;
  }

  /** The message as a client may see it: secrets and internal addresses scrubbed (see setMessageScrubber). */
  get publicMessage(): string {
    return scrubMessage(this.message);
  }

  get retryable(): boolean {
    return DEFAULTS[this.kind].retryable && !this.afterFirstChunk;
  }

  toBody() {
    return { error: { message: this.publicMessage, type: this.type, param: this.param, code: this.code } };
  }
}

/** Classify an upstream HTTP failure by status alone; providers refine type/code from the body. */
export function kindForStatus(status: number): ErrorKind {
  switch (status) {
    case 400:
    case 409:
      return "bad_request";
    case 401:
      return "auth";
    case 403:
      return "permission";
    case 404:
      return "not_found";
    case 408:
      return "timeout";
    case 413:
      return "too_large";
    case 422:
    case 424:
      return "unprocessable";
    case 429:
      return "rate_limit";
    case 503:
    case 529:
      return "overloaded";
    case 504:
      return "timeout";
  }
  if (status >= 500) return "server";
  return "bad_request";
}

/** An upstream HTTP error: 4xx keep their status; 5xx become 502, except overload (503/529 → 503) and 504. */
export function upstreamError(status: number, message: string, init: ErrorInit = {}): AlloyError {
  const kind = kindForStatus(status);
  const keep = status < 500 ? status : kind === "overloaded" ? 503 : status === 504 ? 504 : 502;
  return new AlloyError(kind, message, { ...init, status: keep });
}

/**
 * Anything thrown is an AlloyError by the time governance sees it. Transport failures are classified where they
 * happen (providers/upstream.ts `transportError`), so whatever else arrives here unclassified is a bug in Alloy's own
 * code: a 500 that is never retried or failed over (which would hide it), its stack kept as the cause for the log.
 */
export function asAlloyError(e: unknown): AlloyError {
  if (e instanceof AlloyError) return e;
  // A backing service that failed (the store's StoreError says so): 503 for the client, who may retry; the message
  // names no service, the cause keeps it for the log.
  if (e instanceof Error && (e as { unavailable?: unknown }).unavailable === true)
    return new AlloyError("unavailable", "A service Alloy depends on is unavailable right now: try again shortly", { retryAfterMs: 1000, cause: e });
  if (e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError")) {
    return e.name === "TimeoutError"
      ? new AlloyError("timeout", "upstream request timed out")
      : new AlloyError("cancelled", "request cancelled");
  }
  return new AlloyError("internal", "internal gateway error", { cause: e });
}
