// Embeddings request validation: the compiled TypeBox check first, then the rules a schema cannot say (no empty
// input, at most 2,048 inputs, tokens that are non-negative integers), each a 400 naming the problem.
import { AlloyError } from "../../errors.ts";
import { LazyCheck } from "../../util/lazy-check.ts";
import { EMBEDDING_LIMITS, EmbeddingsRequest, type Inputs } from "./schema.ts";

const check = new LazyCheck(EmbeddingsRequest);

const bad = (param: string, message: string) => new AlloyError("bad_request", `Invalid '${param}': ${message}`, { param });
const shown = (v: unknown) => JSON.stringify(v)?.slice(0, 80) ?? String(v);

/** What is wrong with `input`, found by walking it (the slow path: only when the schema check failed). */
function inputProblem(input: unknown): AlloyError {
  if (input === undefined) return bad("input", "this field is required");
  if (!Array.isArray(input)) return bad("input", `expected a string, a list of strings or token arrays, got ${shown(input)}`);
  const first = input[0];
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    if (typeof first === "string") {
      if (typeof v !== "string") return bad(`input[${i}]`, `expected a string like the other inputs, got ${shown(v)}`);
    } else if (typeof first === "number") {
      if (typeof v !== "number" || !Number.isInteger(v)) return bad(`input[${i}]`, `expected an integer token, got ${shown(v)}`);
    } else if (Array.isArray(first)) {
      if (!Array.isArray(v)) return bad(`input[${i}]`, `expected a token array like the other inputs, got ${shown(v)}`);
      for (let j = 0; j < v.length; j++)
        if (typeof v[j] !== "number" || !Number.isInteger(v[j])) return bad(`input[${i}][${j}]`, `expected an integer token, got ${shown(v[j])}`);
    } else return bad(`input[${i}]`, `expected a string, an integer token or a token array, got ${shown(v)}`);
  }
  return bad("input", "expected a string, a list of strings or token arrays");
}

function describe(body: object): AlloyError {
  const b = body as Record<string, unknown>;
  if (typeof b.model !== "string" || !b.model) return bad("model", `expected a model name, got ${shown(b.model) ?? "nothing"}`);
  if (b.encoding_format !== undefined && b.encoding_format !== "float" && b.encoding_format !== "base64")
    return bad("encoding_format", `expected "float" or "base64", got ${shown(b.encoding_format)}`);
  if (b.dimensions !== undefined && !(Number.isInteger(b.dimensions) && (b.dimensions as number) >= 1))
    return bad("dimensions", `expected a positive integer, got ${shown(b.dimensions)}`);
  if (b.user !== undefined && typeof b.user !== "string") return bad("user", `expected a string, got ${shown(b.user)}`);
  return inputProblem(b.input);
}

/** Narrow an unknown body to an embeddings request or throw a 400 naming the offending field. */
export function validateEmbeddingsRequest(body: unknown): { req: EmbeddingsRequest; inputs: Inputs } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new AlloyError("bad_request", "Request body must be a JSON object", { param: null });
  // Too many inputs is the answer by itself: no need to walk 100,000 of them first.
  const input = (body as { input?: unknown }).input;
  if (Array.isArray(input) && input.length > EMBEDDING_LIMITS.inputs)
    throw bad("input", `expected at most ${EMBEDDING_LIMITS.inputs} inputs, got ${input.length}`);
  if (!check.Check(body)) throw describe(body);
  return { req: body, inputs: inputsOf(body.input) };
}

/** The inputs in one shape, with the checks on their content: nothing empty, tokens non-negative. */
export function inputsOf(input: EmbeddingsRequest["input"]): Inputs {
  if (typeof input === "string") {
    if (!input) throw bad("input", "must not be an empty string");
    return { kind: "text", texts: [input] };
  }
  if (input.length === 0) throw bad("input", "must not be an empty list");
  const first = input[0];
  if (typeof first === "string") {
    const texts = input as string[];
    for (let i = 0; i < texts.length; i++) if (!texts[i]) throw bad(`input[${i}]`, "must not be an empty string");
    return { kind: "text", texts };
  }
  const tokens = typeof first === "number" ? [input as number[]] : (input as number[][]);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const where = typeof first === "number" ? "input" : `input[${i}]`;
    if (t.length === 0) throw bad(where, "must not be an empty token array");
    for (let j = 0; j < t.length; j++) if (t[j]! < 0) throw bad(`${where}[${j}]`, `expected a non-negative token, got ${t[j]}`);
  }
  return { kind: "tokens", tokens };
}
