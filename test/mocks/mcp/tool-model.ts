// A scripted "model" for tool-loop tests, served by the mock OpenAI upstream. The last user message drives it:
//   call <tool_name> <json args>     one line per tool call, all asked for in one round
//   again                            keep asking for the same calls after every tool result (never stops by itself)
// After tool results it answers "Tool said: <result 1> | <result 2> …". JSON or SSE, like OpenAI.
import { completion, jsonResponse, sseResponse, textChunks, toolCallChunks, type Script } from "../openai-upstream.ts";

interface Wanted {
  name: string;
  args: string;
}

function lastUserText(messages: any[]): string {
  const m = [...messages].reverse().find((x) => x.role === "user");
  return typeof m?.content === "string" ? m.content : (m?.content ?? []).map((p: any) => p.text ?? "").join("");
}

function wantedCalls(text: string): Wanted[] {
  const out: Wanted[] = [];
  for (const line of text.split("\n")) {
    const m = line.trim().match(/^call (\S+)\s*(.*)$/);
    if (m) out.push({ name: m[1]!, args: m[2] || "{}" });
  }
  return out;
}

let seq = 0;

export const toolModel: Script = (call) => {
  const b = call.body;
  const messages: any[] = b.messages;
  const last = messages[messages.length - 1];
  const wanted = wantedCalls(lastUserText(messages));
  const again = /\bagain\b/.test(lastUserText(messages));
  const includeUsage = b.stream_options?.include_usage === true;
  if (wanted.length && (last.role !== "tool" || again)) {
    const calls = wanted.map((w) => ({ id: `call_${++seq}`, name: w.name, args: [w.args.slice(0, 3), w.args.slice(3)] }));
    if (b.stream) return sseResponse(toolCallChunks(b.model, calls, includeUsage));
    const tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.args.join("") } }));
    return jsonResponse(completion(b.model, null, { tool_calls }));
  }
  const results: string[] = [];
  for (let i = messages.length - 1; i >= 0 && messages[i].role === "tool"; i--) results.unshift(String(messages[i].content));
  const answer = results.length ? `Tool said: ${results.join(" | ")}` : "No tools needed";
  if (b.stream) return sseResponse(textChunks(b.model, answer.match(/\s*\S+/g) ?? [], includeUsage));
  return jsonResponse(completion(b.model, answer));
};
