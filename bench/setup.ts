// What every bench script starts with: the environment its children get, the mock upstream, and Alloy's bench config
// pointed at it (providers whose type the checkout at `root` does not register left out, with the reason).
import { join } from "node:path";
import { spawnHelper, type Started } from "./procs.ts";
import { alloyConfig, registeredProviderTypes } from "./targets.ts";

export interface BenchUpstream {
  /** The children's environment: PATH and HOME, and fetch's cap high enough for 64 connections and more. */
  env: Record<string, string>;
  upstream: Started;
  /** `http://127.0.0.1:<port>` of the mock upstream. */
  url: string;
  /** bench/config.toml with UPSTREAM replaced. */
  toml: string;
  missing: Map<string, string>;
}

export async function benchUpstream(root: string): Promise<BenchUpstream> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" };
  const upstream = await spawnHelper(["bun", join(import.meta.dir, "upstream.ts")], env);
  const url = `http://127.0.0.1:${upstream.port}`;
  const { toml, missing } = alloyConfig(await Bun.file(join(import.meta.dir, "config.toml")).text(), url, registeredProviderTypes(root));
  return { env, upstream, url, toml, missing };
}
