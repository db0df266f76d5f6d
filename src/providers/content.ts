// What the translating providers read out of OpenAI content the same way: inline data URLs and tool-call arguments.
// Both refuse bad input with a 400 that names the field.
import { AlloyError } from "../errors.ts";

/** `data:<media type>[;params];base64,<data>` → its parts (media type lower-cased); undefined for anything else. */
export function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const m = /^data:([^;,]+)((?:;[^;,]*)*);base64,(.*)$/s.exec(url);
  return m ? { mediaType: m[1]!.toLowerCase(), data: m[3]! } : undefined;
}

/**
 * An assistant tool call's `arguments` (a JSON string) → the object providers send as the tool input. Empty means
 * `{}`; anything that is not a JSON object is the client's error.
 */
export function toolArguments(args: string, toolName: string, param: string): Record<string, unknown> {
  if (!args.trim()) return {};
  let input: unknown;
  try {
    input = JSON.parse(args);
  } catch {
    throw new AlloyError("bad_request", `Invalid tool call arguments: not valid JSON (${toolName})`, { param });
  }
  if (input === null || typeof input !== "object" || Array.isArray(input))
    throw new AlloyError("bad_request", `Invalid tool call arguments: expected a JSON object (${toolName})`, { param });
  return input as Record<string, unknown>;
}
