// Claude's Messages API on Bedrock (InvokeModel): which model ids are Claude, and the Messages body as Bedrock takes
// it. Pure functions; bedrock.ts does the I/O.

/** Anthropic model ids, inference profiles (`us.anthropic.…`, `global.anthropic.…`) and ARNs that name one of them. */
const CLAUDE = /(?:^|[/.])anthropic\.claude/;

export const isClaudeModel = (modelId: string): boolean => CLAUDE.test(modelId);

/** What Bedrock's Claude schema requires in place of the `anthropic-version` header. */
export const BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31";

/** `anthropic-beta: a, b` (the client's header) → `["a", "b"]`, Bedrock's `anthropic_beta`. */
export function betaFlags(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The client's Messages body for InvokeModel: without `model` (the model is in the path) and `stream` (the operation
 * says it), which Bedrock refuses as extraneous keys; with `anthropic_version` and the client's betas. Every other
 * field goes as sent.
 */
export function toInvokeBody(body: Record<string, unknown>, beta: string | undefined): Record<string, unknown> {
  const { model: _model, stream: _stream, anthropic_version: _v, anthropic_beta: _b, ...rest } = body;
  const flags = betaFlags(beta);
  return { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...(flags.length ? { anthropic_beta: flags } : {}), ...rest };
}

/**
 * A count_tokens body as the InvokeModel body CountTokens wants: the same fields, plus the `max_tokens` InvokeModel
 * requires (count_tokens has none; it does not change the count) — above a thinking budget, which must be smaller.
 */
export function toCountBody(body: Record<string, unknown>, beta: string | undefined): Record<string, unknown> {
  const out = toInvokeBody(body, beta);
  if (out.max_tokens === undefined) {
    const budget = (body.thinking as { budget_tokens?: unknown } | undefined)?.budget_tokens;
    out.max_tokens = typeof budget === "number" ? budget + 1 : 1;
  }
  return out;
}

/** The CountTokens request (`POST /model/{id}/count-tokens`): the InvokeModel body is a blob, so base64 in JSON. */
export function countTokensRequest(invokeBody: Record<string, unknown>): string {
  return JSON.stringify({ input: { invokeModel: { body: Buffer.from(JSON.stringify(invokeBody)).toString("base64") } } });
}

/**
 * CountTokens takes foundation-model ids only: `us.anthropic.claude-…` and inference-profile ARNs count as the model
 * they serve (`anthropic.claude-…`). Other ids go as they are.
 */
export function countModelId(modelId: string): string {
  const m = /^(?:arn:[^/]+\/)?(?:[a-z]{2,}(?:-[a-z]+)?\.)?(anthropic\.claude[^/]*)$/.exec(modelId);
  return m ? m[1]! : modelId;
}
