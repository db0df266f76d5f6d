// AlloyError → OpenAI's error body and status, as for chat: `{"error":{"message","type","param","code"}}`.
export { chatErrorReply as embeddingsErrorReply } from "../chat/errors.ts";
