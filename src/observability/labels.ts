// Label values must stay bounded whatever clients send: model names the config knows pass, anything else is `other`.
import type { Config } from "../config/schema.ts";

export const OTHER = "other";
export const NONE = "none";

/** Known values pass; up to `room` unknown ones are admitted as they come (tool names), then `other`. */
export class BoundedLabel {
  private readonly seen: Set<string>;
  constructor(
    known: Iterable<string>,
    private room = 0,
  ) {
    this.seen = new Set(known);
  }
  of(v: string | undefined): string {
    if (v === undefined || v === "") return NONE;
    if (this.seen.has(v)) return v;
    if (this.room > 0 && v.length <= 128) {
      this.room--;
      this.seen.add(v);
      return v;
    }
    return OTHER;
  }
}

/** Model names a client may ask for: aliases, `provider/model` and bare ids of configured models and alias targets. */
export function requestedModels(config: Config): Set<string> {
  const out = new Set(Object.keys(config.models));
  for (const [p, m] of upstreamModelPairs(config)) {
    out.add(m);
    out.add(`${p}/${m}`);
  }
  return out;
}

/** Upstream model ids named anywhere in the config. */
export function upstreamModels(config: Config): Set<string> {
  return new Set([...upstreamModelPairs(config)].map(([, m]) => m));
}

function* upstreamModelPairs(config: Config): Iterable<[provider: string, model: string]> {
  for (const [p, cfg] of Object.entries(config.providers)) {
    for (const m of cfg.models ?? []) yield [p, m];
    if (cfg.default_model) yield [p, cfg.default_model];
  }
  for (const alias of Object.values(config.models))
    for (const t of alias.targets)
      for (const d of Array.isArray(t) ? t : [t]) {
        const target = typeof d === "string" ? d : d.target;
        const slash = target.indexOf("/");
        if (slash > 0) yield [target.slice(0, slash), target.slice(slash + 1)];
      }
}
