// Reading an OpenAI-compatible stream chunk without parsing it: a relay that sends chunks on unchanged needs only
// whether a choice finished (and why), whether the chunk is the usage-only one, and the usage itself (parsed, once
// per stream). Parsing every event costs ~4 µs; these substring checks cost a fraction of that. They are exact for
// compact JSON (what OpenAI, Azure, Groq and most servers send): inside a JSON string a quote is always escaped, so an
// unescaped `"finish_reason":"` can only be a key followed by a string value. Anything else (pretty-printed JSON,
// an error object, no `choices`) is `parse`: the caller parses it fully, as the slow path always did.
import type { Usage } from "../../openai/schema.ts";

export type Scan =
  /** A chunk to relay as it is; `finish` is its finish_reason when a choice ended. */
  | { kind: "chunk"; finish?: string }
  /** Nothing for the client (Azure's prompt_filter_results carry `choices: []` and no usage). */
  | { kind: "skip" }
  /** Not something the scan can vouch for: parse it. */
  | { kind: "parse" };

const FINISH = '"finish_reason":"';
const CHUNK: Scan = { kind: "chunk" };
const SKIP: Scan = { kind: "skip" };
const PARSE: Scan = { kind: "parse" };

export function scanChunk(data: string): Scan {
  // Compact JSON only: a space after a colon or comma between fields means another serialiser, so no guesses.
  if (data.charCodeAt(0) !== 123 /* { */ || data.charCodeAt(1) !== 34 /* " */ || data.includes('": ') || data.includes('", "')) return PARSE;
  // Usage and errors are read by parsing (usage once per stream); a chunk without choices needs a closer look too.
  if (data.includes('"usage":{') || data.includes('"error":')) return PARSE;
  if (data.includes('"choices":[]')) return SKIP;
  // Choices that are objects are what a relay needs to vouch for; anything else is checked by the parser.
  if (!data.includes('"choices":[{')) return PARSE;
  const at = data.indexOf(FINISH);
  if (at < 0) return CHUNK;
  const from = at + FINISH.length;
  const to = data.indexOf('"', from);
  return to > from ? { kind: "chunk", finish: data.slice(from, to) } : PARSE;
}

/** What one relayed event carries for the gateway; `data` is the upstream's own bytes. */
export interface RelayEvent {
  data: string;
  /** The choice's finish_reason, on the chunk that ends it. */
  finish?: string;
  /** On the usage chunk (or a chunk that carries usage). */
  usage?: Usage;
  /** The usage-only chunk (`choices: []`): sent to the client only when it asked for usage. */
  usageOnly?: boolean;
}
