// OpenAI usage from a provider's token counts, by translation.md's one rule: the prompt counts every input token,
// cache reads and writes included, and `cached_tokens` is the cache reads.
import type { Usage } from "./schema.ts";

export function usageFrom(t: { input: number; output: number; cacheRead: number; cacheWrite: number }): Usage {
  const prompt = t.input + t.cacheRead + t.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: t.output,
    total_tokens: prompt + t.output,
    prompt_tokens_details: { cached_tokens: t.cacheRead },
  };
}
