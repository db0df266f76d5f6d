// Streamed tool-call deltas → whole tool calls. The first delta of a call carries index, id and name; later ones
// append argument fragments.
import type { ToolCall, ToolCallDelta } from "./schema.ts";

export class ToolCallAccumulator {
  private readonly byIndex = new Map<number, { id: string; name: string; args: string }>();

  add(deltas: ToolCallDelta[]): void {
    for (const d of deltas) {
      let cur = this.byIndex.get(d.index);
      if (!cur) this.byIndex.set(d.index, (cur = { id: "", name: "", args: "" }));
      if (d.id) cur.id = d.id;
      if (d.function?.name && !cur.name) cur.name = d.function.name;
      if (d.function?.arguments) cur.args += d.function.arguments;
    }
  }

  get size(): number {
    return this.byIndex.size;
  }

  calls(): ToolCall[] {
    return [...this.byIndex.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({ id: c.id || `call_${index}`, type: "function" as const, function: { name: c.name, arguments: c.args } }));
  }
}
