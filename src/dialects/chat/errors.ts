// AlloyError → OpenAI's error body and status: `{"error":{"message","type","param","code"}}`.
import type { AlloyError } from "../../errors.ts";
import type { ErrorReply } from "../dialect.ts";

export function chatErrorReply(err: AlloyError): ErrorReply {
  return { status: err.status, body: err.toBody() };
}
