// Tools that Chat Completions has no form for, flattened into function tools for translated targets, and the map
// back. Codex sends `namespace` tools (top level, or inside an `additional_tools` input item) holding function tools
// and `custom` tools (free-form input, optionally a grammar): each member becomes a function named `<ns>__<name>`
// (a valid OpenAI function name), a custom tool a function taking `{input: string}`. The model's calls come back
// as `function_call {name, namespace}` or `custom_tool_call {name, namespace, input}` items, as at OpenAI.
import type { FunctionTool } from "../../openai/schema.ts";

/** What a flattened chat function name stands for. */
export interface ToolOrigin {
  name: string;
  namespace?: string;
  /** A `custom` tool: the model's `{input}` argument is the call's input. */
  custom: boolean;
}

/** Chat function name → the Responses tool it stands for (only names that differ or are custom are in it). */
export type ToolNames = Map<string, ToolOrigin>;

const MAX = 64;

/** A short stable hash (FNV-1a, base 36) that keeps over-long names distinct once cut. */
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36);
}

/** The chat function name for a tool, valid as an OpenAI function name (`^[a-zA-Z0-9_-]{1,64}$`). */
export function flatName(namespace: string | undefined, name: string): string {
  const full = namespace ? `${namespace}__${name}` : name;
  const clean = full.replace(/[^a-zA-Z0-9_-]/g, "_") || "tool";
  if (clean.length <= MAX && clean === full) return clean;
  if (clean.length <= MAX) return clean;
  const h = hash(full);
  return `${clean.slice(0, MAX - h.length - 1)}_${h}`;
}

interface RawTool {
  type?: unknown;
  name?: unknown;
  description?: unknown;
  parameters?: unknown;
  strict?: unknown;
  format?: unknown;
  tools?: unknown;
}

const GRAMMAR_NOTE_MAX = 4000;

function customDescription(t: RawTool): string {
  let d = typeof t.description === "string" ? t.description : "";
  const f = t.format as { type?: unknown; syntax?: unknown; definition?: unknown } | undefined;
  if (f?.type === "grammar" && typeof f.definition === "string") {
    const note = `\n\nThe input must follow this ${typeof f.syntax === "string" ? f.syntax : ""} grammar:\n${f.definition.slice(0, GRAMMAR_NOTE_MAX)}`;
    d += note;
  }
  return `${d}${d ? "\n\n" : ""}Pass the tool's whole input as the string argument \`input\`.`.trim();
}

/** One function or custom tool (maybe inside a namespace) as a chat function tool; undefined for other types. */
export function flattenTool(t: RawTool, namespace: string | undefined, names: ToolNames): FunctionTool | undefined {
  if (typeof t.name !== "string" || !t.name) return undefined;
  const name = flatName(namespace, t.name);
  if (t.type === "function") {
    const fn: FunctionTool["function"] = { name };
    if (typeof t.description === "string") fn.description = t.description;
    if (t.parameters && typeof t.parameters === "object") fn.parameters = t.parameters as Record<string, unknown>;
    if (typeof t.strict === "boolean") fn.strict = t.strict;
    if (namespace || name !== t.name) names.set(name, { name: t.name, ...(namespace ? { namespace } : {}), custom: false });
    return { type: "function", function: fn };
  }
  if (t.type === "custom") {
    names.set(name, { name: t.name, ...(namespace ? { namespace } : {}), custom: true });
    return {
      type: "function",
      function: {
        name,
        description: customDescription(t),
        parameters: { type: "object", properties: { input: { type: "string" } }, required: ["input"], additionalProperties: false },
      },
    };
  }
  return undefined;
}

/** A `namespace` tool's members as chat function tools; members of other types are reported as dropped. */
export function flattenNamespace(t: RawTool, names: ToolNames, dropped: string[]): FunctionTool[] {
  const ns = typeof t.name === "string" && t.name ? t.name : undefined;
  const out: FunctionTool[] = [];
  for (const m of Array.isArray(t.tools) ? (t.tools as RawTool[]) : []) {
    const f = m && typeof m === "object" ? flattenTool(m, ns, names) : undefined;
    if (f) out.push(f);
    else {
      const type = typeof m?.type === "string" ? m.type : "unknown";
      if (!dropped.includes(type)) dropped.push(type);
    }
  }
  return out;
}

/** The `input` of a custom tool call from the chat call's JSON arguments (the raw text when they are not JSON). */
export function customInput(args: string): string {
  try {
    const v = JSON.parse(args) as { input?: unknown };
    if (v && typeof v === "object" && typeof v.input === "string") return v.input;
  } catch {
    // a model that wrote the input directly
  }
  return args;
}
