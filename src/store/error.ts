// The store's one error type: a single line that names the store (never its password), for the caller to print
// before it exits 2, or to log when a background write fails.
export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s*\n\s*/g, " "), options);
  }
}
