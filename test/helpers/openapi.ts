// Validate a value against a component schema of OpenAI's published OpenAPI document (test/openapi/openapi.json).
//
//   validate("CreateChatCompletionResponse", body)  → [] when it conforms, else one line per violation
//
// The document is OpenAPI 3.1 (JSON Schema 2020-12) with some OpenAPI 3.0 leftovers. Before Ajv sees it, each schema is
// rewritten once, walking schema positions only (so a *property* named `example` or `nullable` is left alone):
// - `nullable: true` (3.0) becomes `anyOf: [<the schema>, {type: "null"}]`, which also lets null past an `enum`;
// - 3.0's boolean `exclusiveMinimum`/`exclusiveMaximum` become 2020-12's numeric bounds; duplicate `required` entries
//   are deduplicated (Ajv rejects them);
// - annotation-only keys Ajv does not know are dropped: `x-*`, `example`, `discriminator` (the `oneOf` beside it still
//   validates), and the spec's stray non-keywords `optional`, `min_items`, `max_items`;
// - `$recursiveRef: "#"` (2019-09) points at its own component; `#/components/schemas/X` refs become `#/$defs/X`.
// Ajv then runs with strictSchema on, so a keyword this rewrite does not know makes compiling throw instead of being
// silently ignored, and every `format` used is checked (`unixtime`: a non-negative integer of seconds).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

export const SPEC_PATH = join(import.meta.dir, "..", "openapi", "openapi.json");

type Schema = Record<string, unknown>;

const SUBSCHEMA = ["items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems"];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems"];
const SCHEMA_MAPS = ["properties", "patternProperties", "dependentSchemas", "$defs"];
const DROPPED = new Set(["example", "discriminator", "optional", "min_items", "max_items", "$recursiveAnchor"]);
const REF_PREFIX = "#/components/schemas/";

function rewrite(schema: unknown, component: string): unknown {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return schema; // `true`/`false` schemas
  const out: Schema = {};
  let nullable = false;
  for (const [k, v] of Object.entries(schema as Schema)) {
    if (k.startsWith("x-") || DROPPED.has(k)) continue;
    if (k === "nullable") nullable = v === true;
    else if ((k === "exclusiveMinimum" || k === "exclusiveMaximum") && typeof v === "boolean") continue; // below
    else if (k === "required" && Array.isArray(v)) out.required = [...new Set(v)];
    else if (k === "$ref" && typeof v === "string")
      out.$ref = v.startsWith(REF_PREFIX) ? `#/$defs/${v.slice(REF_PREFIX.length)}` : v;
    else if (k === "$recursiveRef") out.$ref = `#/$defs/${component}`;
    else if (SUBSCHEMA.includes(k)) out[k] = rewrite(v, component);
    else if (SCHEMA_LISTS.includes(k)) out[k] = (v as unknown[]).map((s) => rewrite(s, component));
    else if (SCHEMA_MAPS.includes(k)) out[k] = Object.fromEntries(Object.entries(v as Schema).map(([n, s]) => [n, rewrite(s, component)]));
    else out[k] = v;
  }
  // 3.0's boolean exclusiveMinimum/Maximum qualifies minimum/maximum; 2020-12 wants the bound itself.
  for (const [ex, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const)
    if ((schema as Schema)[ex] === true) {
      out[ex] = out[bound];
      delete out[bound];
    }
  return nullable ? { anyOf: [out, { type: "null" }] } : out;
}

interface Spec {
  info: { version: string };
  components: { schemas: Record<string, unknown> };
}

let ajv: Ajv2020 | undefined;
let names: Set<string> | undefined;
const compiled = new Map<string, ValidateFunction>();

const ROOT_ID = "https://alloy.test/openai-openapi.json";

function load(): Ajv2020 {
  if (ajv) return ajv;
  const spec = JSON.parse(readFileSync(SPEC_PATH, "utf8")) as Spec;
  const $defs: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec.components.schemas)) $defs[name] = rewrite(s, name);
  names = new Set(Object.keys($defs));
  const a = new Ajv2020({ strictSchema: true, strictTypes: false, strictTuples: false, strictRequired: false, allErrors: true, validateFormats: true });
  addFormats(a);
  a.addFormat("unixtime", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= 0 });
  a.addSchema({ $id: ROOT_ID, $defs });
  ajv = a;
  return a;
}

/** Every component name in the spec (to check a name exists before relying on it). */
export function componentNames(): Set<string> {
  load();
  return names!;
}

function format(e: ErrorObject): string {
  const where = e.instancePath || "(root)";
  const extra = e.keyword === "additionalProperties" ? ` (${(e.params as { additionalProperty: string }).additionalProperty})`
    : e.keyword === "enum" ? ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)})`
    : "";
  return `${where} ${e.message}${extra} [${e.schemaPath}]`;
}

/**
 * The violations of `value` against `#/components/schemas/<component>`: empty when it conforms. Throws for a
 * component the spec does not have, so a typo cannot pass as "no errors".
 */
export function validate(component: string, value: unknown): string[] {
  const a = load();
  if (!names!.has(component)) throw new Error(`OpenAPI spec has no component schema ${JSON.stringify(component)}`);
  let fn = compiled.get(component);
  if (!fn) {
    fn = a.compile({ $ref: `${ROOT_ID}#/$defs/${component}` });
    compiled.set(component, fn);
  }
  return fn(value) ? [] : (fn.errors ?? []).map(format);
}
