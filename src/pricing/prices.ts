// The price table shipped in the binary: USD per million tokens, by provider type and model id as the upstream knows
// it. `[pricing."provider/model"]` in the config overrides or extends it (see pricing.ts). Sources, checked 2026-12:
//   OpenAI:    https://platform.openai.com/docs/pricing (standard tier; "cached input" is cache_read; OpenAI bills no
//              cache writes)
//   Anthropic: https://platform.claude.com/docs/en/about-claude/pricing ("Model pricing": base input, 5m cache writes
//              as cache_write, cache hits as cache_read, output)
//   Bedrock:   https://aws.amazon.com/bedrock/pricing/ (on-demand, us-east-1; Claude on Bedrock at Anthropic's list
//              prices; Amazon Nova and Titan from the Amazon section)
// A model id is matched exactly, then by the longest entry it starts with (so dated snapshots such as
// `gpt-4o-2024-08-06` or `claude-sonnet-4-5-20250929` take their family's price), after a Bedrock cross-region prefix
// (`us.`, `eu.`, `apac.`, `global.`) is set aside.

export interface Price {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
}

const p = (input: number, output: number, cacheRead?: number, cacheWrite?: number): Price => ({ input, output, cacheRead, cacheWrite });

const OPENAI: Record<string, Price> = {
  "gpt-5.5": p(5, 30, 0.5),
  "gpt-5.5-pro": p(30, 180),
  "gpt-5.4": p(2.5, 15, 0.25),
  "gpt-5.4-mini": p(0.75, 4.5, 0.075),
  "gpt-5.4-nano": p(0.2, 1.25, 0.02),
  "gpt-5.4-pro": p(30, 180),
  "gpt-5.2": p(1.75, 14, 0.175),
  "gpt-5.2-pro": p(21, 168),
  "gpt-5.1": p(1.25, 10, 0.125),
  "gpt-5.1-codex": p(1.25, 10, 0.125),
  "gpt-5": p(1.25, 10, 0.125),
  "gpt-5-codex": p(1.25, 10, 0.125),
  "gpt-5-mini": p(0.25, 2, 0.025),
  "gpt-5-nano": p(0.05, 0.4, 0.005),
  "gpt-4.1": p(2, 8, 0.5),
  "gpt-4.1-mini": p(0.4, 1.6, 0.1),
  "gpt-4.1-nano": p(0.1, 0.4, 0.025),
  "gpt-4o": p(2.5, 10, 1.25),
  "gpt-4o-mini": p(0.15, 0.6, 0.075),
  o3: p(2, 8, 0.5),
  "o3-pro": p(20, 80),
  "o3-mini": p(1.1, 4.4, 0.55),
  "o4-mini": p(1.1, 4.4, 0.275),
  o1: p(15, 60, 7.5),
  "o1-mini": p(1.1, 4.4, 0.55),
  "text-embedding-3-small": p(0.02, 0),
  "text-embedding-3-large": p(0.13, 0),
  "text-embedding-ada-002": p(0.1, 0),
};

const ANTHROPIC: Record<string, Price> = {
  "claude-opus-5": p(5, 25, 0.5, 6.25),
  "claude-opus-4-8": p(5, 25, 0.5, 6.25),
  "claude-opus-4-7": p(5, 25, 0.5, 6.25),
  "claude-opus-4-6": p(5, 25, 0.5, 6.25),
  "claude-opus-4-5": p(5, 25, 0.5, 6.25),
  "claude-opus-4-1": p(15, 75, 1.5, 18.75),
  "claude-opus-4": p(15, 75, 1.5, 18.75),
  "claude-sonnet-4-6": p(3, 15, 0.3, 3.75),
  "claude-sonnet-4-5": p(3, 15, 0.3, 3.75),
  "claude-sonnet-4": p(3, 15, 0.3, 3.75),
  "claude-3-7-sonnet": p(3, 15, 0.3, 3.75),
  "claude-haiku-4-5": p(1, 5, 0.1, 1.25),
  "claude-3-5-haiku": p(0.8, 4, 0.08, 1),
  "claude-3-haiku": p(0.25, 1.25, 0.03, 0.3),
};

const BEDROCK: Record<string, Price> = {
  ...Object.fromEntries(Object.entries(ANTHROPIC).map(([m, price]) => [`anthropic.${m}`, price])),
  "amazon.nova-premier": p(2.5, 12.5),
  "amazon.nova-pro": p(0.8, 3.2, 0.2),
  "amazon.nova-lite": p(0.06, 0.24, 0.015),
  "amazon.nova-micro": p(0.035, 0.14, 0.00875),
  "amazon.titan-embed-text-v2": p(0.02, 0),
  "meta.llama3-3-70b-instruct": p(0.72, 0.72),
};

/** Built-in prices by provider type. */
export const PRICES: Record<string, Record<string, Price>> = { openai: OPENAI, anthropic: ANTHROPIC, bedrock: BEDROCK };
