// What the bench sends where: one realistic chat request, and the targets that receive it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import type { Dialect } from "./stream-client.ts";

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

/** An Anthropic Messages request with the same content as chatBody. */
export function messagesBody(model: string, stream: boolean): string {
  const chat = JSON.parse(chatBody(model, false)) as { messages: { role: string; content: string }[] };
  return JSON.stringify({
    model,
    system: chat.messages[0]!.content,
    messages: chat.messages.slice(1),
    temperature: 0.7,
    max_tokens: 256,
    metadata: { user_id: "bench-user-42" },
    ...(stream ? { stream: true } : {}),
  });
}

/**
 * An OpenAI Responses request with the same content as chatBody. `store: false`: the row measures the route, not
 * Alloy's response store (whose writes are batched off the request path anyway).
 */
export function responsesBody(model: string, stream: boolean): string {
  const chat = JSON.parse(chatBody(model, false)) as { messages: { role: string; content: string }[] };
  return JSON.stringify({
    model,
    instructions: chat.messages[0]!.content,
    input: chat.messages.slice(1),
    temperature: 0.7,
    max_output_tokens: 256,
    user: "bench-user-42",
    store: false,
    ...(stream ? { stream: true } : {}),
  });
}

/** The process that serves a target (its CPU is read around the target's timed runs). */
export type Proc = "upstream" | "bare" | "floor" | "alloy" | "traced" | "keyed";

export interface Target {
  key: string;
  label: string;
  url: string;
  json: string;
  /** The streamed request; undefined for routes that do not stream (embeddings). */
  stream?: string;
  /** How the stream is counted (and what the JSON probe looks for). */
  dialect: Dialect;
  /** The target whose latency this one's "added" columns are measured against (default: direct; itself when it is one). */
  baseline?: string;
  /** Set when the target cannot run (provider type or route not on this build, probe failed). */
  skipped?: string;
  proc: Proc;
  /** Extra request headers (the gateway key of the keyed Alloy). */
  headers?: Record<string, string>;
}

/** A substring every JSON answer of the target's route contains. */
export function jsonMark(t: Target): string {
  if (t.stream === undefined) return '"embedding"';
  return t.dialect === "openai" ? '"choices"' : t.dialect === "anthropic" ? '"content"' : '"output"';
}

/** Processes that are an Alloy (their rows go into the ratio tables). */
export const isAlloy = (p: Proc) => p === "alloy" || p === "traced" || p === "keyed";

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

/** Paths Alloy serves, read from src/routes.ts (a target on a path not there yet is skipped). */
export function servedRoutes(root: string): Set<string> {
  const text = readFileSync(join(root, "src/routes.ts"), "utf8");
  const block = text.slice(text.indexOf("ROUTES"), text.indexOf("} as const"));
  return new Set([...block.matchAll(/:\s*["'](\/[^"']*)["']/g)].map((m) => m[1]!));
}

export const ALLOY_MODELS = {
  openai: { provider: "bench-openai", model: "bench-openai/gpt-bench" },
  anthropic: { provider: "bench-anthropic", model: "bench-anthropic/claude-bench" },
  bedrock: { provider: "bench-bedrock", model: "bench-bedrock/anthropic.claude-bench-v1:0" },
  /** An OpenAI provider with `responses = "native"`: /v1/responses passes through to the upstream's Responses API. */
  responses: { provider: "bench-openai-responses", model: "bench-openai-responses/gpt-bench" },
  /** The alias over bench-openai and bench-openai-b with hedge_after_ms (config.toml). */
  hedged: { provider: "bench-openai-b", model: "bench-hedged" },
} as const;

/** The traced Alloy's config: the same, exporting every span to the bench upstream (which takes OTLP too). */
export function tracedConfig(toml: string, upstream: string): string {
  return `${toml}\n[observability.tracing]\notlp_endpoint = "${upstream}"\n`;
}

/** The keyed Alloy's gateway key: a fake, for the bench only. */
export const BENCH_KEY = "alloy-bench-key-0123456789";

/**
 * The keyed Alloy's config: the same with one configured key carrying an rpm limit (so every request goes through
 * the key lookup and the sliding window). 100,000 is the most config allows; the bench sends the keyed row fewer in any
 * minute (its runs are spread over the round), and a 429 would show in the row's failed column.
 */
export function keyedConfig(toml: string): string {
  return `${toml}\n[server.keys.bench]\nkey = "${BENCH_KEY}"\nrpm = 100000\n`;
}

export interface Ports {
  upstream: number;
  bare: number;
  floor: number;
  alloy: number;
  traced?: number;
  keyed?: number;
}

const ROUTE = { chat: "/v1/chat/completions", messages: "/v1/messages", responses: "/v1/responses", embeddings: "/v1/embeddings" } as const;

/**
 * Every row of the bench. `missing` holds provider names left out of the config (with the reason); `routes` the paths
 * Alloy serves (default: all of them).
 */
export function buildTargets(ports: Ports, missing: Map<string, string>, routes?: Set<string>): Target[] {
  const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
  const chat = (key: string, label: string, port: number, proc: Proc): Target => ({
    key,
    label,
    url: url(port, ROUTE.chat),
    json: chatBody("gpt-bench", false),
    stream: chatBody("gpt-bench", true),
    dialect: "openai",
    proc,
  });
  /** A target on an Alloy, skipped when its provider or route is not on this build. */
  const viaAlloy = (t: Omit<Target, "url" | "proc"> & { path: string; provider: string; proc?: Proc; port?: number }): Target => {
    const { path, provider, port, ...rest } = t;
    const skipped = missing.get(provider) ?? (routes && !routes.has(path) ? `route ${path} is not in src/routes.ts on this build` : undefined);
    return { ...rest, url: url(port ?? ports.alloy, path), proc: t.proc ?? "alloy", ...(skipped ? { skipped } : {}) };
  };
  const chatVia = (key: keyof typeof ALLOY_MODELS, label: string) => {
    const m = ALLOY_MODELS[key];
    return viaAlloy({ key: `alloy-${key}`, label, path: ROUTE.chat, provider: m.provider, json: chatBody(m.model, false), stream: chatBody(m.model, true), dialect: "openai" });
  };
  const messagesVia = (key: string, label: string, model: string, provider: string) =>
    viaAlloy({ key, label, path: ROUTE.messages, provider, json: messagesBody(model, false), stream: messagesBody(model, true), dialect: "anthropic", baseline: "direct-messages" });
  const responsesVia = (key: string, label: string, model: string, provider: string) =>
    viaAlloy({ key, label, path: ROUTE.responses, provider, json: responsesBody(model, false), stream: responsesBody(model, true), dialect: "responses", baseline: "direct-responses" });
  /** The upstream itself on a route: the baseline its Alloy rows' added latency is measured against. */
  const direct = (path: string, label: string, dialect: Dialect, json: string, stream?: string): Target => {
    const key = `direct-${path.slice(path.lastIndexOf("/") + 1)}`;
    return { key, label, url: url(ports.upstream, path), json, ...(stream === undefined ? {} : { stream }), dialect, baseline: key, proc: "upstream" };
  };
  const openai = ALLOY_MODELS.openai;
  const hedged = chatVia("hedged", "Alloy → hedged alias (2 × OpenAI)");
  // The hedge's second target must exist too.
  if (!hedged.skipped && missing.has(openai.provider)) hedged.skipped = missing.get(openai.provider);

  return [
    chat("direct", "direct to upstream", ports.upstream, "upstream"),
    chat("bare", "bare Bun proxy", ports.bare, "bare"),
    chat("floor", "floor (metering proxy)", ports.floor, "floor"),
    chatVia("openai", "Alloy → OpenAI"),
    chatVia("anthropic", "Alloy → Anthropic"),
    chatVia("bedrock", "Alloy → Bedrock"),
    hedged,
    ...(ports.keyed
      ? [
          viaAlloy({
            key: "alloy-keyed",
            label: "Alloy → OpenAI, key with rpm",
            path: ROUTE.chat,
            provider: openai.provider,
            json: chatBody(openai.model, false),
            stream: chatBody(openai.model, true),
            dialect: "openai",
            proc: "keyed",
            port: ports.keyed,
            headers: { authorization: `Bearer ${BENCH_KEY}` },
          }),
        ]
      : []),
    // Tracing on (OTLP to the bench upstream), against "Alloy → OpenAI" with tracing off.
    ...(ports.traced
      ? [{ ...chatVia("openai", "Alloy → OpenAI, tracing on"), key: "alloy-openai-traced", url: url(ports.traced, ROUTE.chat), proc: "traced" as const }]
      : []),
    direct(ROUTE.messages, "/v1/messages direct to upstream", "anthropic", messagesBody("claude-bench", false), messagesBody("claude-bench", true)),
    messagesVia("alloy-messages-native", "/v1/messages Alloy → Anthropic (native)", ALLOY_MODELS.anthropic.model, ALLOY_MODELS.anthropic.provider),
    messagesVia("alloy-messages-openai", "/v1/messages Alloy → OpenAI (translated)", openai.model, openai.provider),
    direct(ROUTE.responses, "/v1/responses direct to upstream", "responses", responsesBody("gpt-bench", false), responsesBody("gpt-bench", true)),
    responsesVia("alloy-responses-native", "/v1/responses Alloy → OpenAI (native)", ALLOY_MODELS.responses.model, ALLOY_MODELS.responses.provider),
    responsesVia("alloy-responses-chat", "/v1/responses Alloy → OpenAI chat (translated)", openai.model, openai.provider),
    direct(ROUTE.embeddings, "/v1/embeddings direct to upstream", "openai", embeddingsBody("text-embedding-bench")),
    viaAlloy({
      key: "alloy-embeddings",
      label: "/v1/embeddings Alloy → OpenAI",
      path: ROUTE.embeddings,
      provider: openai.provider,
      json: embeddingsBody(`${openai.provider}/text-embedding-bench`),
      dialect: "openai",
      baseline: "direct-embeddings",
    }),
  ];
}
