// Glue between a chat request and the tool loop: plan the MCP tools, then run the loop with governance-backed model
// calls (each round takes its own slot, retries and failover) and the manager's tool calls.
import type { McpConfig } from "../config/schema.ts";
import { AlloyError, asAlloyError } from "../errors.ts";
import type { DispatchContext, Dispatcher, Opened, OpenStream } from "../gateway/dispatch.ts";
import type { Route } from "../gateway/route.ts";
import type { ChatChunk, ChatRequest, ChatResponse, ToolCall } from "../openai/schema.ts";
import type { Piece } from "../providers/provider.ts";
import { runToolLoop, streamToolLoop, type LoopFns } from "./loop.ts";
import { resultText } from "./result.ts";
import type { McpManager } from "./servers.ts";
import { planMcpTools, type McpPlan } from "./tools.ts";

const NO_SERVERS = { has: () => false, known: () => false, tools: () => [], readiness: () => [] };

/** The MCP plan for a request, or undefined when it uses no MCP tools (then it is dispatched as usual). */
export function planForRequest(req: ChatRequest, route: Route, mcp: McpManager | undefined): McpPlan | undefined {
  const usesMcp = route.mcpServers?.length || req.tools?.some((t) => t.type === "mcp");
  return usesMcp ? planMcpTools(req, route.mcpServers, mcp ?? NO_SERVERS) : undefined;
}

export interface McpRunDeps {
  mcp: McpManager | undefined;
  config: McpConfig;
  dispatcher: Dispatcher;
}

/** Run one tool call for the model: any failure becomes text the model can read; only cancellation throws. */
export async function runToolForModel(mcp: McpManager | undefined, call: ToolCall, o: { signal: AbortSignal; timeoutMs: number; requestId: string }): Promise<string> {
  let args: unknown;
  try {
    args = call.function.arguments.trim() ? JSON.parse(call.function.arguments) : {};
  } catch (e) {
    return `Tool error: the arguments are not valid JSON (${e instanceof Error ? e.message : String(e)})`;
  }
  if (!args || typeof args !== "object" || Array.isArray(args)) return "Tool error: the arguments must be a JSON object";
  try {
    if (!mcp) throw new AlloyError("unavailable", "no MCP servers are configured");
    return resultText(await mcp.call(call.function.name, args as Record<string, unknown>, o));
  } catch (e) {
    if (o.signal.aborted) throw asAlloyError(o.signal.reason);
    return `Tool error: ${asAlloyError(e).message}`;
  }
}

function loopFns(deps: McpRunDeps, route: Route, ctx: DispatchContext): LoopFns {
  return {
    complete: (req) => deps.dispatcher.chat(req, route, ctx).then((r) => r.value),
    stream: (req) => deps.dispatcher.stream(req, route, ctx).then((s) => mapOpened(s, (p: Piece) => p.chunk)),
    runTool: (call) => runToolForModel(deps.mcp, call, { signal: ctx.signal, timeoutMs: deps.config.tool_timeout_secs * 1000, requestId: ctx.requestId }),
    maxIterations: deps.config.max_iterations,
  };
}

export function mcpChat(plan: McpPlan, deps: McpRunDeps, route: Route, ctx: DispatchContext): Promise<ChatResponse> {
  return runToolLoop(plan, loopFns(deps, route, ctx));
}

export function mcpStream(plan: McpPlan, deps: McpRunDeps, route: Route, ctx: DispatchContext): Promise<OpenStream> {
  // The loop builds its own chunks: none of them is an upstream's bytes.
  return streamToolLoop(plan, loopFns(deps, route, ctx)).then((s) => mapOpened(s, (chunk: ChatChunk): Piece => ({ chunk })));
}

/** The same open stream with each item mapped (the loop works on chunks, the encoders on pieces). */
export function mapOpened<A, B>(s: Opened<A>, f: (a: A) => B): Opened<B> {
  const { rest } = s;
  return {
    first: f(s.first),
    rest: {
      next: () => rest.next().then((r) => (r.done ? r : { done: false, value: f(r.value) })),
      return: async () => {
        await rest.return?.();
        return { done: true, value: undefined };
      },
    },
  };
}
