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
  if (data.charCodeAt(0) !== 123 /* { */ || data.charCodeAt(1) !== 34 /* " */ || data.startsWith('{"error"')) return PARSE;
  // Compact JSON only: a space after the first key's colon means another serialiser's style (Python's json.dumps
  // puts one after every separator), so no guesses. One look at the start, not a scan of the whole event.
  const colon = data.indexOf('":', 2);
  if (colon < 0 || data.charCodeAt(colon + 2) === 32) return PARSE;
  // Choices that are objects are what a relay can vouch for; `[]` carries nothing unless it is the usage chunk; usage
  // is read by parsing (once per stream); anything else is checked by the parser. A few passes over ~200 bytes.
  const c = data.indexOf('"choices":[');
  if (c < 0) return PARSE;
  const first = data.charCodeAt(c + 11);
  if (first === 93 /* ] */) return data.includes('"usage":{') ? PARSE : SKIP;
  if (first !== 123 /* { */ || data.includes('"usage":{')) return PARSE;
  const at = data.indexOf(FINISH, c);
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

/**
 * Usage and model of an OpenAI embeddings list, found without parsing its vectors: `"usage":{…}` is a flat object of
 * numbers (its first `}` closes it), `"model":"…"` a plain string. Undefined when the text does not look like the
 * list (no `"object":"list"` and `"data":[`, no usage object): the caller then parses it whole.
 */
export function scanEmbeddings(text: string): { usage: { prompt_tokens: number; total_tokens: number }; model: string | undefined } | undefined {
  if (text.charCodeAt(0) !== 123 || !text.includes('"data":[') || !text.includes('"object":"list"')) return undefined;
  const u = text.lastIndexOf('"usage":{');
  if (u < 0) return undefined;
  const end = text.indexOf("}", u);
  let usage: unknown;
  try {
    usage = JSON.parse(text.slice(u + 8, end + 1));
  } catch {
    return undefined;
  }
  const p = (usage as { prompt_tokens?: unknown }).prompt_tokens;
  const t = (usage as { total_tokens?: unknown }).total_tokens;
  if (typeof p !== "number" || typeof t !== "number") return undefined;
  const m = text.lastIndexOf('"model":"');
  const model = m < 0 ? undefined : text.slice(m + 9, text.indexOf('"', m + 9));
  return { usage: { ...(usage as object), prompt_tokens: p, total_tokens: t }, model };
}

/** What a relayed chat answer carries for the gateway; `raw` is the upstream's own bytes. */
export interface RelayedChat {
  raw: string;
  usage?: Usage;
  finish?: string;
  model?: string;
}

/** Answers at least this large are scanned for usage rather than parsed whole. */
export const SCAN_ABOVE = 32 * 1024;

/**
 * Usage, finish reason and model of a (large) Chat Completions answer without parsing its content: the usage
 * object is the last `"usage":{` (balanced braces; it holds keys, numbers and detail objects only), the finish reason the
 * last `"finish_reason":"`. Undefined when the text does not look like a compact answer: the caller parses it.
 */
export function scanChat(text: string): Omit<RelayedChat, "raw"> | undefined {
  if (text.charCodeAt(0) !== 123 || !text.includes('"choices":[{') || !text.includes('"message":{')) return undefined;
  const u = text.lastIndexOf('"usage":{');
  let usage: Usage | undefined;
  if (u >= 0) {
    let depth = 0;
    let end = -1;
    for (let i = u + 8; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // Usage holds keys and numbers (and detail objects of the same): no braces inside strings to skip.
      if (c === 123) depth++;
      else if (c === 125 && --depth === 0) {
        end = i;
        break;
      }
    }
    if (end < 0) return undefined;
    try {
      usage = JSON.parse(text.slice(u + 8, end + 1)) as Usage;
    } catch {
      return undefined;
    }
  }
  const f = text.lastIndexOf('"finish_reason":"');
  const finish = f < 0 ? undefined : text.slice(f + 17, text.indexOf('"', f + 17));
  const m = text.indexOf('"model":"');
  const model = m < 0 ? undefined : text.slice(m + 9, text.indexOf('"', m + 9));
  return { ...(usage ? { usage } : {}), ...(finish ? { finish } : {}), ...(model ? { model } : {}) };
}
