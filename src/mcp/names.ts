// MCP tool names as the model sees them: `<server>__<tool>`, valid OpenAI function names (^[a-zA-Z0-9_-]{1,64}$).
// Names that do not fit are cleaned and, when too long, truncated with a short hash of the original so two long
// names never collide.
import { createHash } from "node:crypto";

export const SEPARATOR = "__";
const MAX = 64;
const VALID = /^[a-zA-Z0-9_-]{1,64}$/;

export function isValidFunctionName(name: string): boolean {
  return VALID.test(name);
}

/** The namespaced, OpenAI-valid function name for `tool` on `server`. Deterministic. */
export function namespacedToolName(server: string, tool: string): string {
  const raw = `${server}${SEPARATOR}${tool}`;
  const clean = raw.replace(/[^a-zA-Z0-9_-]/g, "_");
  if (clean === raw && clean.length <= MAX) return clean;
  // Changed or too long: a hash of the original keeps distinct tools distinct (e.g. "a.b" and "a_b").
  const hash = createHash("sha256").update(raw).digest("hex").slice(0, 8);
  return `${clean.slice(0, MAX - hash.length - 1)}_${hash}`;
}
