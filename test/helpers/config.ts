// Config loading for tests, with every provider type Alloy ships (the CLI passes the same registry).
import { loadConfig as load, type Flags } from "../../src/config/load.ts";
import { providerModules } from "../../src/providers/registry.ts";

export { ConfigError } from "../../src/config/load.ts";

export function loadConfig(flags: Flags = {}, env: Record<string, string | undefined> = process.env) {
  return load(flags, env, providerModules);
}
