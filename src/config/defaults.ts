// Config defaults from the schema's `default` keywords. TypeBox's Value.Default visits every object property twice,
// so its work doubles with each level of nesting: on our config that was most of startup's 7 ms and enough calls to
// pull TypeBox's helpers into the optimizing JIT, which alone added ~3 MB to idle memory.
import type { TSchema } from "@sinclair/typebox";

/**
 * `value` with every missing key that has a default filled in (in place, returned). Descends into object properties,
 * array items and every record value (Value.Default only into those whose schema has a default of its own); not into
 * unions, which hold no defaults below them in our schemas (a union's own default still applies).
 */
export function withDefaults(schema: TSchema, value: unknown): unknown {
  if (value === undefined && "default" in schema) value = structuredClone(schema.default);
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    if (schema.items) for (let i = 0; i < value.length; i++) value[i] = withDefaults(schema.items, value[i]);
    return value;
  }
  const obj = value as Record<string, unknown>;
  const props = schema.properties as Record<string, TSchema> | undefined;
  if (props)
    for (const key in props) {
      const v = withDefaults(props[key]!, obj[key]);
      if (v !== undefined) obj[key] = v;
    }
  const patterns = schema.patternProperties as Record<string, TSchema> | undefined;
  if (patterns) {
    const each = Object.values(patterns)[0]!;
    for (const key of Object.keys(obj)) obj[key] = withDefaults(each, obj[key]);
  }
  return obj;
}
