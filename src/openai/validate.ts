// Chat Completions request validation: one compiled TypeBox checker on the hot path; on failure (the slow path) a
// second look names the exact field and what it should be, the way OpenAI's own 400s do.
import type { TSchema } from "@sinclair/typebox";
import { AlloyError } from "../errors.ts";
import { ChatRequest, LIMITS, MessageByRole } from "./schema.ts";
import { own } from "../util/own.ts";
import { LazyCheck } from "../util/lazy-check.ts";

const checkRequest = new LazyCheck(ChatRequest);
// Per-role checkers serve only the error path: each compiles the first time a message of its role fails.
const byRole: Record<string, LazyCheck<TSchema>> = Object.fromEntries(
  Object.entries(MessageByRole).map(([role, schema]) => [role, new LazyCheck(schema as TSchema)]),
);

function fieldPath(pointer: string, prefix = ""): string {
  let out = prefix;
  for (const seg of pointer.split("/").slice(1)) out += /^\d+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

function describe(first: { path: string; message: string; value: unknown }, prefix = ""): AlloyError {
  const param = fieldPath(first.path, prefix) || "body";
  const got = first.value === undefined ? "" : `, got ${JSON.stringify(first.value)?.slice(0, 80)}`;
  return new AlloyError("bad_request", `Invalid '${param}': ${first.message.replace(/^Expected/, "expected")}${got}`, { param });
}

/** Narrow an unknown body to a ChatRequest or throw a 400 naming the offending field. */
export function validateChatRequest(body: unknown): ChatRequest {
  if (checkRequest.Check(body)) return body;
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new AlloyError("bad_request", "Request body must be a JSON object", { param: null });
  const msgs = (body as { messages?: unknown }).messages;
  // Too many messages is the answer by itself: do not walk thousands of them first to find a smaller fault.
  if (Array.isArray(msgs) && msgs.length > LIMITS.messages)
    throw new AlloyError("bad_request", `Invalid 'messages': expected at most ${LIMITS.messages} messages, got ${msgs.length}`, { param: "messages" });
  if (Array.isArray(msgs)) {
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i] as { role?: unknown } | null;
      const role = m && typeof m === "object" ? m.role : undefined;
      const checker = typeof role === "string" ? own(byRole, role) : undefined;
      if (!checker) {
        const param = `messages[${i}].role`;
        throw new AlloyError(
          "bad_request",
          `Invalid '${param}': expected one of ${Object.keys(MessageByRole).join(", ")}, got ${JSON.stringify(role)?.slice(0, 80) ?? "nothing"}`,
          { param },
        );
      }
      const err = checker.Errors(m).First();
      if (err) throw describe(err, `messages[${i}]`);
    }
  }
  const first = checkRequest.Errors(body).First();
  throw first ? describe(first) : new AlloyError("bad_request", "Invalid request body");
}
