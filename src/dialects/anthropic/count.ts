// A documented approximation of Anthropic's input token count, for `count_tokens` on non-Anthropic targets and for
// message_start's `input_tokens` before the upstream reports the real count. No tokenizer: ~4 characters per token
// over everything the model reads (English prose and code average 3.5–4.5 with Claude's and OpenAI's tokenizers),
// plus fixed costs where text length says nothing:
// - an image counts IMAGE_TOKENS (Anthropic: tokens ≈ width × height / 750, ~1,600 for a 1.15-megapixel image, the
//   size it scales larger images down to);
// - a PDF counts its decoded bytes / PDF_BYTES_PER_TOKEN, at least one page's worth (PDF pages cost 1,500–3,000
//   tokens: text plus the page image);
// - each message MESSAGE_OVERHEAD and each tool TOOL_OVERHEAD for the framing the API adds.
// Always ≥ 1 for a request with any message.
import type { ContentBlock, CountTokensRequest, MessagesRequest } from "./schema.ts";

export const IMAGE_TOKENS = 1600;
export const PDF_PAGE_TOKENS = 1500;
const PDF_BYTES_PER_TOKEN = 40;
const MESSAGE_OVERHEAD = 4;
const TOOL_OVERHEAD = 10;
const CHARS_PER_TOKEN = 4;

export function estimateTokens(req: MessagesRequest | CountTokensRequest): number {
  let chars = 0;
  let fixed = 0;
  const add = (s: string | undefined) => (chars += s?.length ?? 0);
  const block = (b: ContentBlock | { type: string }): void => {
    const x = b as Record<string, unknown>;
    switch (b.type) {
      case "text":
        return void add(x.text as string);
      case "thinking":
        return void add(x.thinking as string);
      case "image":
        fixed += IMAGE_TOKENS;
        return;
      case "document": {
        const s = x.source as { type: string; data?: string; content?: unknown };
        if (s.type === "base64") fixed += Math.max(PDF_PAGE_TOKENS, Math.ceil(((s.data?.length ?? 0) * 3) / 4 / PDF_BYTES_PER_TOKEN));
        else if (s.type === "text") add(s.data);
        else if (typeof s.content === "string") add(s.content);
        else if (Array.isArray(s.content)) for (const c of s.content) block(c as ContentBlock);
        else fixed += PDF_PAGE_TOKENS; // url / file: size unknown
        return;
      }
      case "tool_use":
      case "server_tool_use":
        add(x.name as string);
        return void add(JSON.stringify(x.input));
      case "tool_result": {
        const c = x.content;
        if (typeof c === "string") add(c);
        else if (Array.isArray(c)) for (const r of c) block(r as ContentBlock);
        return;
      }
      default:
        // search_result, server tool results, future types: their JSON is a fair upper bound of what the model reads.
        return void add(JSON.stringify(b));
    }
  };

  if (typeof req.system === "string") add(req.system);
  else for (const b of req.system ?? []) add(b.text);
  for (const m of req.messages) {
    fixed += MESSAGE_OVERHEAD;
    if (typeof m.content === "string") add(m.content);
    else for (const b of m.content) block(b);
  }
  for (const t of req.tools ?? []) {
    fixed += TOOL_OVERHEAD;
    add(JSON.stringify(t));
  }
  return Math.max(1, fixed + Math.ceil(chars / CHARS_PER_TOKEN));
}
