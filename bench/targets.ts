// What the bench sends where: one realistic chat request, and the targets that receive it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";

/** A typical short chat turn (~1 KB): system prompt, a bit of history, sampling knobs. */
export function chatBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [
      {
        role: "system",
        content:
          "You are a concise assistant for an online bookshop. Answer in at most three sentences, cite the catalogue " +
          "number when you mention a book, and never invent prices. If the question is not about books, say so politely.",
      },
      { role: "user", content: "Do you have anything by Ursula K. Le Guin in paperback?" },
      { role: "assistant", content: "Yes: The Left Hand of Darkness (CAT-10442) and The Dispossessed (CAT-10518) are both in stock in paperback." },
      { role: "user", content: "Which one would you recommend to someone new to science fiction, and why? Keep it short please." },
    ],
    temperature: 0.7,
    max_tokens: 256,
    user: "bench-user-42",
    ...(stream ? { stream: true } : {}),
  });
}

/** A RAG-sized embeddings request: eight short passages, 256-dimension floats back. */
export function embeddingsBody(model: string): string {
  const passages = Array.from({ length: 8 }, (_, i) => `Passage ${i} of the catalogue: a paperback by Ursula K. Le Guin, in stock, CAT-${10440 + i}.`);
  return JSON.stringify({ model, input: passages, encoding_format: "float", dimensions: 256 });
}

export interface Target {
  key: string;
  label: string;
  url: string;
  json: string;
  /** The streamed request; undefined for routes that do not stream (embeddings). */
  stream?: string;
  /** The target whose latency this one's "added" columns are measured against (default: direct; itself when it is one). */
  baseline?: string;
  /** Set when the target cannot run (provider type not registered, probe failed). */
  skipped?: string;
  /** Requests to this target are served by the Alloy process (counted for the memory marks). */
  alloy: boolean;
}

/** Provider types Alloy registers, read from the source (the binary is rebuilt from it when stale). */
export function registeredProviderTypes(root: string): Set<string> {
  const text = readFileSync(join(root, "src/providers/registry.ts"), "utf8");
  const block = text.slice(text.indexOf("providerModules"));
  const body = block.slice(block.indexOf("{") + 1, block.indexOf("}"));
  return new Set([...body.matchAll(/^\s*["']?([\w-]+)["']?\s*:/gm)].map((m) => m[1]!));
}

/** bench/config.toml with the upstream address filled in and unregistered provider types left out. */
export function alloyConfig(template: string, upstream: string, types: Set<string>): { toml: string; missing: Map<string, string> } {
  const doc = parse(template.replaceAll("UPSTREAM", upstream)) as { providers: Record<string, { type: string }> };
  const missing = new Map<string, string>();
  for (const [name, p] of Object.entries(doc.providers)) {
    if (types.has(p.type)) continue;
    missing.set(name, `provider type "${p.type}" is not registered in src/providers/registry.ts yet`);
    delete doc.providers[name];
  }
  return { toml: stringify(doc), missing };
}

export const ALLOY_MODELS = {
  openai: { provider: "bench-openai", model: "bench-openai/gpt-bench" },
  anthropic: { provider: "bench-anthropic", model: "bench-anthropic/claude-bench" },
  bedrock: { provider: "bench-bedrock", model: "bench-bedrock/anthropic.claude-bench-v1:0" },
} as const;

export function buildTargets(ports: { upstream: number; bare: number; alloy: number }, missing: Map<string, string>): Target[] {
  const chat = (port: number) => `http://127.0.0.1:${port}/v1/chat/completions`;
  const plain = (key: string, label: string, port: number): Target => ({
    key,
    label,
    url: chat(port),
    json: chatBody("gpt-bench", false),
    stream: chatBody("gpt-bench", true),
    alloy: false,
  });
  const viaAlloy = (key: keyof typeof ALLOY_MODELS, label: string): Target => {
    const m = ALLOY_MODELS[key];
    return {
      key: `alloy-${key}`,
      label,
      url: chat(ports.alloy),
      json: chatBody(m.model, false),
      stream: chatBody(m.model, true),
      alloy: true,
      ...(missing.has(m.provider) ? { skipped: missing.get(m.provider) } : {}),
    };
  };
  const embeddings = (port: number) => `http://127.0.0.1:${port}/v1/embeddings`;
  return [
    plain("direct", "direct to upstream", ports.upstream),
    plain("bare", "bare Bun proxy", ports.bare),
    viaAlloy("openai", "Alloy → OpenAI"),
    viaAlloy("anthropic", "Alloy → Anthropic"),
    viaAlloy("bedrock", "Alloy → Bedrock"),
    { key: "direct-embeddings", label: "/v1/embeddings direct to upstream", url: embeddings(ports.upstream), json: embeddingsBody("text-embedding-bench"), baseline: "direct-embeddings", alloy: false },
    {
      key: "alloy-embeddings",
      label: "/v1/embeddings Alloy → OpenAI",
      url: embeddings(ports.alloy),
      json: embeddingsBody(`${ALLOY_MODELS.openai.provider}/text-embedding-bench`),
      baseline: "direct-embeddings",
      alloy: true,
      ...(missing.has(ALLOY_MODELS.openai.provider) ? { skipped: missing.get(ALLOY_MODELS.openai.provider) } : {}),
    },
  ];
}
