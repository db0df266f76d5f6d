// The store's one error type: a single line that names the store (never its password), for the caller to print
// before it exits 2, or to log when a background write fails.
export class StoreError extends Error {
  override readonly name = "StoreError";
  /** On a request's path this is a service that is down, not a bug: see asAlloyError (503, no store name shown). */
  readonly unavailable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s*\n\s*/g, " "), options);
  }
}
