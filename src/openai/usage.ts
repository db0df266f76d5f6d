// OpenAI usage from a provider's token counts, by translation.md's one rule: the prompt counts every input token,
// cache reads and writes included, and `cached_tokens` is the cache reads. Cache writes, which OpenAI's usage has no
// field for, go in `cache_write_tokens` beside it (as OpenRouter and LiteLLM report them) when there are any: prices
// charge them at their own rate, and the Anthropic and Responses encoders give them back.
import type { Usage } from "./schema.ts";

export function usageFrom(t: { input: number; output: number; cacheRead: number; cacheWrite: number }): Usage {
  const prompt = t.input + t.cacheRead + t.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: t.output,
    total_tokens: prompt + t.output,
    prompt_tokens_details: t.cacheWrite > 0 ? { cached_tokens: t.cacheRead, cache_write_tokens: t.cacheWrite } : { cached_tokens: t.cacheRead },
  };
}
