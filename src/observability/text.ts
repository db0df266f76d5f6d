// Debug-level completion text for streams: gather the deltas as they pass and hand over the assembled message once
// the stream ends, however it ends. Only used when the observer asks for text, so the normal path never pays for it.
import type { ChatChunk } from "../openai/schema.ts";
import type { Piece } from "../providers/provider.ts";
import { ToolCallAccumulator } from "../openai/tool-calls.ts";

export interface AssembledMessage {
  content: string;
  tool_calls?: Array<{ id?: string; name?: string; arguments: string }>;
}

export function tapStream(first: Piece, rest: AsyncIterator<Piece>, done: (msg: AssembledMessage) => void): AsyncIterator<Piece> {
  const msg: AssembledMessage = { content: "" };
  const calls = new ToolCallAccumulator();
  let finished = false;
  const take = (c: ChatChunk) => {
    const d = c.choices[0]?.delta;
    if (!d) return;
    if (d.content) msg.content += d.content;
    if (d.tool_calls) calls.add(d.tool_calls);
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    if (calls.size) msg.tool_calls = calls.calls().map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
    done(msg);
  };
  take(first.chunk);
  return {
    async next() {
      try {
        const r = await rest.next();
        if (r.done) finish();
        else take(r.value.chunk);
        return r;
      } catch (e) {
        finish();
        throw e;
      }
    },
    async return(value?: unknown) {
      finish();
      return (await rest.return?.(value)) ?? { done: true, value: undefined };
    },
  };
}
