// Every provider type Alloy knows, one line each. A new provider is its own file plus one line here.
import { anthropicModule } from "./anthropic.ts";
import { bedrockModule } from "./bedrock.ts";
import { mockModule } from "./mock.ts";
import { openaiModule } from "./openai.ts";
import type { Provider, ProviderModule } from "./provider.ts";
import type { ProviderConfig } from "../config/schema.ts";
import type { UpstreamLimits } from "./upstream.ts";

export const providerModules: Record<string, ProviderModule> = {
  openai: openaiModule,
  mock: mockModule,
  anthropic: anthropicModule,
  bedrock: bedrockModule,
};

/** Bare-name routing rules, in registry order: [family, provider type]. */
export function familiesOf(modules: Record<string, ProviderModule>): Array<[RegExp, string]> {
  return Object.values(modules).flatMap((m) => (m.family ? [[m.family, m.type] as [RegExp, string]] : []));
}

export function createProviders(configs: Record<string, ProviderConfig>, limits: UpstreamLimits): Map<string, Provider> {
  const out = new Map<string, Provider>();
  for (const [name, cfg] of Object.entries(configs)) out.set(name, providerModules[cfg.type]!.create(name, cfg, limits));
  return out;
}
