// Connections to the configured MCP servers: connect (in parallel, in the background), list their tools (and prompts),
// refresh on `notifications/{tools,prompts}/list_changed`, reconnect with backoff when one dies, call tools, get
// prompts, list and read resources, close on shutdown.
// A server that cannot start is logged and retried; it never takes the gateway down.
import { EventEmitter } from "node:events";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
} from "@modelcontextprotocol/sdk/types.js";
import type { McpConfig, McpServerConfig } from "../config/schema.ts";
import { AlloyError, asAlloyError } from "../errors.ts";
import { backoffDelay, type BackoffPolicy } from "../governance/backoff.ts";
import type { Logger } from "../observability/log.ts";
import type { RequestTrace } from "../observability/tracing.ts";
import { namespacedToolName } from "./names.ts";

export type ServerState = "connecting" | "connected" | "reconnecting" | "closed";

/** One MCP tool as the gateway offers it. */
export interface McpToolInfo {
  /** Namespaced name, as the model and `/v1/mcp/tools` see it. */
  name: string;
  server: string;
  /** The tool's own name on its server. */
  tool: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  /** Passed on as they are by /mcp. */
  title?: string;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

/** One MCP prompt as the gateway offers it, namespaced like tools. */
export interface McpPromptInfo {
  name: string;
  server: string;
  /** The prompt's own name on its server. */
  prompt: string;
  description?: string;
  title?: string;
  arguments?: Prompt["arguments"];
}

export interface ServerStatus {
  state: ServerState;
  tools: number;
  error?: string;
}

/** Hook for metrics, wired by whoever owns them. */
export type ToolCallHook = (server: string, tool: string, durationMs: number, isError: boolean) => void;

export interface McpManagerOptions {
  log: Logger;
  onToolCall?: ToolCallHook;
  /** Delay between reconnect attempts (full jitter). */
  backoff?: BackoffPolicy;
  /** How often a remote server is pinged to notice it died (stdio servers are watched through their process). */
  pingIntervalMs?: number;
  /** Bound on the MCP handshake and on listing tools. */
  connectTimeoutMs?: number;
  clientVersion?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  requestId?: string;
  /** The request's trace: the call gets an `execute_tool` span in it. */
  trace?: RequestTrace;
}

/** At most this many entries of one list (tools, prompts, resources) are taken from a server. */
const MAX_LISTED = 10_000;

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One configured server and its (re)connection life cycle. */
class ServerConnection {
  state: ServerState = "connecting";
  error: string | undefined;
  /** Last known tools, kept across a reconnect so requests can still be planned while the server comes back. */
  tools = new Map<string, McpToolInfo>();
  /** Last known prompts, likewise (empty when the server offers none). */
  prompts = new Map<string, McpPromptInfo>();
  client: Client | undefined;
  /** A client still in its handshake; closed on shutdown so a hung server does not outlive us. */
  private pending: Client | undefined;
  private attempt = 0;
  /** Bumped whenever a client is abandoned, so late events from it are ignored. */
  private generation = 0;
  private retryTimer: Timer | undefined;
  private pingTimer: Timer | undefined;
  private pinging = false;
  private everConnected = false;

  constructor(
    readonly name: string,
    private readonly cfg: McpServerConfig,
    private readonly m: McpManager,
    private readonly o: Required<Omit<McpManagerOptions, "onToolCall">>,
  ) {}

  private setState(state: ServerState, error?: string) {
    this.state = state;
    this.error = error;
    this.m.events.emit("state", this.name, state);
  }

  private transport(): Transport {
    const c = this.cfg;
    if (c.transport === "stdio") {
      const t = new StdioClientTransport({ command: c.command!, args: c.args, env: c.env, cwd: c.cwd, stderr: "pipe" });
      // The server's stderr is its log; keep it out of ours unless debugging.
      t.stderr?.on("data", (d: Buffer) => {
        for (const line of d.toString().split("\n")) if (line.trim()) this.o.log.debug(`mcp ${this.name} stderr: ${line.slice(0, 2000)}`, { mcpServer: this.name });
      });
      return t;
    }
    const url = new URL(c.url!);
    const requestInit = c.headers ? { headers: c.headers } : undefined;
    return c.transport === "sse" ? new SSEClientTransport(url, { requestInit }) : new StreamableHTTPClientTransport(url, { requestInit });
  }

  async connect(): Promise<void> {
    if (this.m.closing) return;
    const gen = ++this.generation;
    const client = new Client({ name: "alloy", version: this.o.clientVersion }, { capabilities: {} });
    client.onclose = () => this.lost(gen, new Error(this.cfg.transport === "stdio" ? "the server process exited" : "the connection closed"));
    // Transport errors on remote servers (a dropped event stream) are only hints: check with a ping before acting.
    client.onerror = (e) => {
      if (gen === this.generation && this.state === "connected" && this.cfg.transport !== "stdio") {
        this.o.log.debug(`mcp ${this.name}: transport error: ${message(e)}`, { mcpServer: this.name });
        this.checkAlive(gen);
      }
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      if (gen === this.generation) void this.refresh(gen, client);
    });
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => {
      if (gen === this.generation) void this.refreshPrompts(gen, client);
    });
    // Resources are read live, never cached: the change only needs passing on.
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
      if (gen === this.generation) this.m.events.emit("resources", this.name);
    });
    this.pending = client;
    try {
      await client.connect(this.transport(), { timeout: this.o.connectTimeoutMs });
      const tools = await this.list(client);
      const prompts = await this.listPrompts(client);
      if (this.pending === client) this.pending = undefined;
      if (gen !== this.generation || this.m.closing) {
        await client.close().catch(() => {});
        return;
      }
      this.client = client;
      this.tools = tools;
      this.prompts = prompts;
      this.attempt = 0;
      this.everConnected = true;
      this.o.log.info(`mcp server ${this.name} connected`, { mcpServer: this.name, transport: this.cfg.transport, tools: tools.size });
      this.setState("connected");
      this.m.events.emit("tools", this.name);
      if (prompts.size) this.m.events.emit("prompts", this.name);
      if (this.cfg.transport !== "stdio") this.pingTimer = setInterval(() => this.checkAlive(gen), this.o.pingIntervalMs);
      this.pingTimer?.unref?.();
    } catch (e) {
      if (this.pending === client) this.pending = undefined;
      this.lost(gen, e);
      await client.close().catch(() => {});
    }
  }

  /** The connection `gen` failed or died: drop it and schedule the next attempt. */
  private lost(gen: number, e: unknown) {
    if (gen !== this.generation || this.m.closing) return;
    this.generation++;
    clearInterval(this.pingTimer);
    const old = this.client;
    this.client = undefined;
    if (old) void old.close().catch(() => {});
    const delay = backoffDelay(this.o.backoff, this.attempt++);
    const what = this.everConnected ? "disconnected" : "failed to connect";
    this.o.log.warn(`mcp server ${this.name} ${what}: ${message(e)}; retrying in ${delay}ms`, {
      mcpServer: this.name,
      attempt: this.attempt,
    });
    this.setState("reconnecting", message(e));
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  /** Ping a remote server; if it does not answer, treat the connection as dead. */
  checkAlive(gen: number) {
    const client = this.client;
    if (!client || this.pinging || gen !== this.generation) return;
    this.pinging = true;
    client
      .ping({ timeout: this.o.connectTimeoutMs })
      .catch((e) => this.lost(gen, new Error(`ping failed: ${message(e)}`)))
      .finally(() => (this.pinging = false));
  }

  private async list(client: Client): Promise<Map<string, McpToolInfo>> {
    const out = new Map<string, McpToolInfo>();
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: this.o.connectTimeoutMs });
      for (const t of page.tools) {
        const name = namespacedToolName(this.name, t.name);
        const info: McpToolInfo = { name, server: this.name, tool: t.name, description: t.description, inputSchema: t.inputSchema };
        if (t.title) info.title = t.title;
        if (t.outputSchema) info.outputSchema = t.outputSchema;
        if (t.annotations) info.annotations = t.annotations;
        out.set(name, info);
      }
      cursor = page.nextCursor;
    } while (cursor && out.size < MAX_LISTED);
    return out;
  }

  /** The server's prompts, when it offers any; a server that fails to list them just has none (logged). */
  private async listPrompts(client: Client): Promise<Map<string, McpPromptInfo>> {
    const out = new Map<string, McpPromptInfo>();
    if (!client.getServerCapabilities()?.prompts) return out;
    try {
      let cursor: string | undefined;
      do {
        const page = await client.listPrompts(cursor ? { cursor } : undefined, { timeout: this.o.connectTimeoutMs });
        for (const p of page.prompts) {
          const name = namespacedToolName(this.name, p.name);
          out.set(name, { name, server: this.name, prompt: p.name, description: p.description, title: p.title, arguments: p.arguments });
        }
        cursor = page.nextCursor;
      } while (cursor && out.size < MAX_LISTED);
    } catch (e) {
      this.o.log.warn(`mcp server ${this.name}: could not list prompts: ${message(e)}`, { mcpServer: this.name });
    }
    return out;
  }

  private async refreshPrompts(gen: number, client: Client) {
    const prompts = await this.listPrompts(client);
    if (gen !== this.generation) return;
    this.prompts = prompts;
    this.m.events.emit("prompts", this.name);
  }

  private async refresh(gen: number, client: Client) {
    try {
      const tools = await this.list(client);
      if (gen !== this.generation) return;
      this.tools = tools;
      this.o.log.info(`mcp server ${this.name} tools changed`, { mcpServer: this.name, tools: tools.size });
      this.m.events.emit("tools", this.name);
    } catch (e) {
      this.o.log.warn(`mcp server ${this.name}: could not refresh tools: ${message(e)}`, { mcpServer: this.name });
    }
  }

  /** Resolves once connected; rejects with the signal's reason or when the manager closes. */
  whenConnected(signal?: AbortSignal): Promise<Client> {
    if (this.client && this.state === "connected") return Promise.resolve(this.client);
    return new Promise((resolve, reject) => {
      const onState = (server: string, state: ServerState) => {
        if (server !== this.name) return;
        if (state === "connected" && this.client) finish(() => resolve(this.client!));
        else if (state === "closed") finish(() => reject(new AlloyError("unavailable", `MCP server '${this.name}' is shut down`)));
      };
      const onAbort = () => finish(() => reject(signal!.reason));
      const finish = (f: () => void) => {
        this.m.events.off("state", onState);
        signal?.removeEventListener("abort", onAbort);
        f();
      };
      if (signal?.aborted) return reject(signal.reason);
      this.m.events.on("state", onState);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async close() {
    this.generation++;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const clients = [this.client, this.pending];
    this.client = this.pending = undefined;
    this.setState("closed");
    await Promise.allSettled(clients.map((c) => c?.close()));
  }

  /** A call failed on the transport (not a tool error): a remote server may be gone, so check. */
  suspect() {
    this.checkAlive(this.generation);
  }
}

export class McpManager {
  /** `state` (server, state) and `tools` (server) events; tests and readiness wait on them. */
  readonly events = new EventEmitter();
  closing = false;
  private readonly servers = new Map<string, ServerConnection>();
  private readonly onToolCall: ToolCallHook | undefined;
  private readonly log: Logger;

  constructor(config: McpConfig, o: McpManagerOptions) {
    this.events.setMaxListeners(0);
    this.log = o.log;
    this.onToolCall = o.onToolCall;
    const full = {
      log: o.log,
      backoff: o.backoff ?? DEFAULT_BACKOFF,
      pingIntervalMs: o.pingIntervalMs ?? 15_000,
      connectTimeoutMs: o.connectTimeoutMs ?? 30_000,
      clientVersion: o.clientVersion ?? "0.1.0",
    };
    for (const [name, cfg] of Object.entries(config.servers)) this.servers.set(name, new ServerConnection(name, cfg, this, full));
  }

  /** Connect every server in the background; returns at once. */
  start(): void {
    for (const s of this.servers.values()) void s.connect();
  }

  get serverNames(): string[] {
    return [...this.servers.keys()];
  }

  has(server: string): boolean {
    return this.servers.has(server);
  }

  status(): Record<string, ServerStatus> {
    const out: Record<string, ServerStatus> = {};
    for (const [name, s] of this.servers) out[name] = { state: s.state, tools: s.tools.size, ...(s.error ? { error: s.error } : {}) };
    return out;
  }

  /** Reasons the MCP side is not ready (empty when every server is connected), for `/ready`. */
  readiness(): string[] {
    const out: string[] = [];
    for (const [name, s] of this.servers)
      if (s.state !== "connected") out.push(`mcp server '${name}' is ${s.state}${s.error ? `: ${s.error}` : ""}`);
    return out;
  }

  /** Resolves when the named servers (default: all) are connected. */
  async whenConnected(names: string[] = this.serverNames, signal?: AbortSignal): Promise<void> {
    await Promise.all(names.map((n) => this.server(n).whenConnected(signal)));
  }

  /** Whether the server has been listed at least once (its tools are known even if it is reconnecting). */
  known(server: string): boolean {
    const s = this.servers.get(server);
    return !!s && (s.state === "connected" || s.tools.size > 0);
  }

  /** Tools of one server (last known), or of all servers. */
  tools(server?: string): McpToolInfo[] {
    if (server !== undefined) return [...(this.servers.get(server)?.tools.values() ?? [])];
    const out: McpToolInfo[] = [];
    for (const s of this.servers.values()) out.push(...s.tools.values());
    return out;
  }

  lookup(name: string): McpToolInfo | undefined {
    for (const s of this.servers.values()) {
      const t = s.tools.get(name);
      if (t) return t;
    }
    return undefined;
  }

  /**
   * Call a tool by its namespaced name. Waits (within the timeout) for a reconnecting server. A tool that reports an
   * error is a normal result with `isError`; a failure to get any result throws an AlloyError.
   */
  async call(name: string, args: Record<string, unknown>, o: CallOptions): Promise<CallToolResult> {
    const info = this.lookup(name);
    if (!info) throw new AlloyError("not_found", `Unknown MCP tool '${name}'`, { code: "tool_not_found", param: "name" });
    const start = performance.now();
    let isError = true;
    const span = o.trace?.tool(info.server, info.tool, name, o.trace.capture ? args : undefined);
    let failure: AlloyError | undefined;
    let result: CallToolResult | undefined;
    try {
      result = await this.onServer(info.server, `MCP tool '${name}'`, o, (client, signal, timeout) =>
        client.callTool({ name: info.tool, arguments: args }, undefined, { signal, timeout }) as Promise<CallToolResult>,
      );
      isError = result.isError === true;
      return result;
    } catch (e) {
      failure = e instanceof AlloyError ? e : undefined;
      throw e;
    } finally {
      const ms = performance.now() - start;
      this.log.debug("mcp tool call", { mcpServer: info.server, tool: info.tool, durationMs: Math.round(ms * 100) / 100, isError, requestId: o.requestId });
      this.onToolCall?.(info.server, info.tool, ms, isError);
      span?.end(failure, isError, span && o.trace?.capture ? result?.content : undefined);
    }
  }

  /** Prompts of one server (last known), or of all servers. */
  prompts(server?: string): McpPromptInfo[] {
    if (server !== undefined) return [...(this.servers.get(server)?.prompts.values() ?? [])];
    const out: McpPromptInfo[] = [];
    for (const s of this.servers.values()) out.push(...s.prompts.values());
    return out;
  }

  lookupPrompt(name: string): McpPromptInfo | undefined {
    for (const s of this.servers.values()) {
      const p = s.prompts.get(name);
      if (p) return p;
    }
    return undefined;
  }

  /** Get a prompt by its namespaced name on its server (same waiting and timeout as a tool call). */
  getPrompt(name: string, args: Record<string, string> | undefined, o: CallOptions): Promise<GetPromptResult> {
    const info = this.lookupPrompt(name);
    if (!info) throw new AlloyError("not_found", `Unknown MCP prompt '${name}'`, { code: "prompt_not_found", param: "name" });
    return this.onServer(info.server, `MCP prompt '${name}'`, o, (client, signal, timeout) =>
      client.getPrompt({ name: info.prompt, ...(args ? { arguments: args } : {}) }, { signal, timeout }),
    );
  }

  /** Whether a server is connected now and says it has resources (lists skip the others rather than wait for them). */
  hasResources(server: string): boolean {
    const c = this.servers.get(server)?.client;
    return !!c && this.servers.get(server)!.state === "connected" && !!c.getServerCapabilities()?.resources;
  }

  /** Every resource of one server (all pages, bounded). */
  listResources(server: string, o: CallOptions): Promise<Resource[]> {
    return this.onServer(server, `MCP server '${server}' resources`, o, async (client, signal, timeout) => {
      const out: Resource[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listResources(cursor ? { cursor } : undefined, { signal, timeout });
        out.push(...page.resources);
        cursor = page.nextCursor;
      } while (cursor && out.length < MAX_LISTED);
      return out;
    });
  }

  listResourceTemplates(server: string, o: CallOptions): Promise<ResourceTemplate[]> {
    return this.onServer(server, `MCP server '${server}' resource templates`, o, async (client, signal, timeout) => {
      const out: ResourceTemplate[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listResourceTemplates(cursor ? { cursor } : undefined, { signal, timeout });
        out.push(...page.resourceTemplates);
        cursor = page.nextCursor;
      } while (cursor && out.length < MAX_LISTED);
      return out;
    });
  }

  readResource(server: string, uri: string, o: CallOptions): Promise<ReadResourceResult> {
    return this.onServer(server, `MCP resource on '${server}'`, o, (client, signal, timeout) => client.readResource({ uri }, { signal, timeout }));
  }

  /**
   * Run one request on a server's client: waits (within the timeout) for a reconnecting server, bounded by
   * `o.timeoutMs` and `o.signal`; every failure to get an answer becomes an AlloyError naming `what`.
   */
  private async onServer<R>(server: string, what: string, o: CallOptions, run: (client: Client, signal: AbortSignal, timeout: number) => Promise<R>): Promise<R> {
    const conn = this.server(server);
    const secs = o.timeoutMs / 1000;
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new AlloyError("timeout", `${what} did not finish within ${secs}s (mcp.tool_timeout_secs)`, { code: "tool_timeout" })),
      o.timeoutMs,
    );
    const onOuter = () => ac.abort(o.signal!.reason);
    if (o.signal?.aborted) onOuter();
    else o.signal?.addEventListener("abort", onOuter, { once: true });
    try {
      const client = await conn.whenConnected(ac.signal).catch((reason) => {
        throw reason instanceof AlloyError && reason.kind === "timeout"
          ? new AlloyError("unavailable", `MCP server '${server}' is not connected${conn.error ? `: ${conn.error}` : ""}`)
          : reason;
      });
      // Our own timer owns the deadline; the SDK's default (60 s) must not cut a longer configured timeout.
      return await run(client, ac.signal, o.timeoutMs + 1000);
    } catch (e) {
      throw this.callError(e, what, conn, ac.signal);
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onOuter);
    }
  }

  private callError(e: unknown, what: string, conn: ServerConnection, signal: AbortSignal): AlloyError {
    if (signal.aborted) return asAlloyError(signal.reason);
    if (e instanceof AlloyError) return e;
    if (e instanceof McpError) {
      if (e.code === ErrorCode.InvalidParams) return new AlloyError("bad_request", `${what}: ${e.message}`);
      if (e.code === ErrorCode.ConnectionClosed) return new AlloyError("server", `${what}: the server connection closed during the call`);
      if (e.code === ErrorCode.RequestTimeout) return new AlloyError("timeout", `${what}: ${e.message}`, { code: "tool_timeout" });
      return new AlloyError("server", `${what}: ${e.message}`);
    }
    conn.suspect();
    return new AlloyError("network", `${what}: ${message(e)}`);
  }

  private server(name: string): ServerConnection {
    const s = this.servers.get(name);
    if (!s) throw new AlloyError("bad_request", `Unknown MCP server '${name}'`);
    return s;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.servers.values()].map((s) => s.close()));
  }
}
