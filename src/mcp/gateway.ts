// Alloy as one MCP server for all the others: `/mcp` over streamable HTTP with the SDK's own server classes. Each
// session is one SDK `Server` on one web-standard transport; its handlers answer from the McpManager's connections —
// tools and prompts as the manager lists them (namespaced `<server>__<name>`), resources live from each server under
// `alloy://<server>/<uri>` — within what the session's key may use. Sessions are bounded in number and idle time.
// Loaded only when MCP servers are configured (it pulls in the MCP SDK).
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  isInitializeRequest,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type Resource,
  type ResourceTemplate,
} from "@modelcontextprotocol/sdk/types.js";
import type { McpConfig } from "../config/schema.ts";
import { asAlloyError } from "../errors.ts";
import { mcpServerAllowed, mcpToolAllowed, type KeyRule } from "../governance/keylimits.ts";
import type { Logger } from "../observability/log.ts";
import { namespacedToolName } from "./names.ts";
import { RPC_SERVER_ERROR, RPC_SESSION_NOT_FOUND, rpcError } from "./rpc.ts";
import type { McpManager } from "./servers.ts";

/** What the gateway needs from the HTTP side: rpm and concurrency for tool calls (GatewayAuth.admit). */
export type Admit = (caller: KeyRule | undefined) => (() => void) | Promise<() => void>;

export interface McpGatewayOptions {
  mcp: McpManager;
  config: McpConfig;
  log: Logger;
  admit: Admit;
  version: string;
  /** Bytes of one POST body (server.max_body_size). */
  maxBodySize: number;
  now?: () => number;
}

const RESOURCE_PREFIX = "alloy://";

/** A server's resource URI as /mcp shows it: `alloy://<server>/<its own uri>` (reversible, unlike tool names). */
export function gatewayUri(server: string, uri: string): string {
  return `${RESOURCE_PREFIX}${encodeURIComponent(server)}/${uri}`;
}

/** The server and its own URI behind a gateway URI, or undefined when it is not one. */
export function parseGatewayUri(uri: string): { server: string; uri: string } | undefined {
  if (!uri.startsWith(RESOURCE_PREFIX)) return undefined;
  const slash = uri.indexOf("/", RESOURCE_PREFIX.length);
  if (slash < 0) return undefined;
  try {
    return { server: decodeURIComponent(uri.slice(RESOURCE_PREFIX.length, slash)), uri: uri.slice(slash + 1) };
  } catch {
    return undefined;
  }
}

/** An AlloyError from the manager as the JSON-RPC error a client gets (its public message, never a secret). */
function toMcpError(e: unknown): McpError {
  if (e instanceof McpError) return e;
  const err = asAlloyError(e);
  const code =
    err.kind === "bad_request" || err.kind === "not_found" || err.kind === "permission"
      ? ErrorCode.InvalidParams
      : err.kind === "timeout"
        ? ErrorCode.RequestTimeout
        : ErrorCode.InternalError;
  const data: Record<string, unknown> = { type: err.kind };
  if (err.retryAfterMs !== undefined) data.retry_after_ms = err.retryAfterMs;
  return new McpError(code, err.publicMessage, data);
}

interface Session {
  id: string;
  caller: KeyRule | undefined;
  server: Server;
  transport: WebStandardStreamableHTTPServerTransport;
  /** Requests in flight, an open event stream included: a session with any is never idle. */
  active: number;
  lastUsed: number;
  closed: boolean;
  /** Resolves when the session closes, so requests still waiting on it get an answer. */
  ended: Promise<void>;
  end: () => void;
}

export class McpGateway {
  private readonly sessions = new Map<string, Session>();
  private readonly sweepTimer: Timer;
  private readonly now: () => number;
  private readonly idleMs: number;
  private readonly timeoutMs: number;
  private readonly listeners: Array<[string, (server: string) => void]>;

  constructor(private readonly o: McpGatewayOptions) {
    this.now = o.now ?? (() => performance.now());
    this.idleMs = o.config.gateway_session_idle_secs * 1000;
    this.timeoutMs = o.config.tool_timeout_secs * 1000;
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(30_000, Math.max(50, this.idleMs / 4)));
    this.sweepTimer.unref?.();
    // A server's list changed (or it connected): tell every session whose key may see that server.
    this.listeners = [
      ["tools", (server) => this.notify(server, (s) => s.sendToolListChanged())],
      ["prompts", (server) => this.notify(server, (s) => s.sendPromptListChanged())],
      ["resources", (server) => this.notify(server, (s) => s.sendResourceListChanged())],
    ];
    for (const [event, f] of this.listeners) o.mcp.events.on(event, f);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private notify(server: string, send: (s: Server) => Promise<void>) {
    for (const s of this.sessions.values())
      if (!s.closed && mcpServerAllowed(s.caller, server))
        send(s.server).catch((e) => this.o.log.debug(`mcp gateway: could not notify session: ${e instanceof Error ? e.message : String(e)}`));
  }

  /**
   * One HTTP request on /mcp. `body` is the parsed POST body (the HTTP side reads it within its limits), undefined
   * for GET and DELETE. The session stays busy (never idle) while an answer or its event stream is open.
   */
  async handle(request: Request, body: unknown, caller: KeyRule | undefined): Promise<Response> {
    const sid = request.headers.get("mcp-session-id");
    if (sid === null) {
      if (request.method === "POST" && isInitializeRequest(body)) return this.open(request, body, caller);
      if (request.method === "POST" || request.method === "GET" || request.method === "DELETE")
        return rpcError(400, RPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required (start a session with initialize)");
      return rpcError(405, RPC_SERVER_ERROR, "Method not allowed: /mcp takes POST, GET and DELETE", { allow: "GET, POST, DELETE" });
    }
    const s = this.sessions.get(sid);
    // Another key's session is as unknown as one that never existed.
    if (!s || s.closed || s.caller?.label !== caller?.label) return rpcError(404, RPC_SESSION_NOT_FOUND, "Session not found");
    return this.run(s, request, body);
  }

  private async open(request: Request, body: unknown, caller: KeyRule | undefined): Promise<Response> {
    if (this.sessions.size >= this.o.config.gateway_max_sessions && !this.evictOne())
      return rpcError(503, RPC_SERVER_ERROR, `Too many MCP sessions (mcp.gateway_max_sessions = ${this.o.config.gateway_max_sessions}); try again later`, {
        "retry-after": "1",
      });
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      // Answers as JSON; server-sent notifications go on the session's GET stream.
      enableJsonResponse: true,
      maxRequestBodySize: this.o.maxBodySize,
      onsessioninitialized: (id) => {
        session.id = id;
        this.sessions.set(id, session);
        this.o.log.debug("mcp gateway session opened", { key: caller?.label, sessions: this.sessions.size });
      },
    });
    const server = this.serverFor(caller);
    const session: Session = { id: "", caller, server, transport, active: 0, lastUsed: this.now(), closed: false, ended, end };
    server.onclose = () => this.forget(session);
    await server.connect(transport);
    const res = await this.run(session, request, body);
    if (!session.id) await this.closeOne(session);
    return res;
  }

  /** Run one request on a session, keeping it busy until its answer (or its event stream) ends. */
  private async run(s: Session, request: Request, body: unknown): Promise<Response> {
    s.active++;
    s.lastUsed = this.now();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      s.active--;
      s.lastUsed = this.now();
    };
    let res: Response;
    try {
      const handled = s.transport.handleRequest(request, body === undefined ? undefined : { parsedBody: body });
      // A JSON answer the transport will never give once its session is gone (closed while a call was in flight).
      res = request.method === "POST" ? await Promise.race([handled, s.ended.then(() => rpcError(404, RPC_SESSION_NOT_FOUND, "Session closed"))]) : await handled;
    } catch (e) {
      finish();
      throw e;
    }
    if (res.body && res.headers.get("content-type")?.startsWith("text/event-stream")) return tracked(res, finish);
    finish();
    return res;
  }

  /** At the bound: close the least recently used idle session. False when every session is busy. */
  private evictOne(): boolean {
    let oldest: Session | undefined;
    for (const s of this.sessions.values()) if (s.active === 0 && (!oldest || s.lastUsed < oldest.lastUsed)) oldest = s;
    if (!oldest) return false;
    this.o.log.info("mcp gateway session closed to make room (mcp.gateway_max_sessions)", { key: oldest.caller?.label });
    void this.closeOne(oldest);
    return true;
  }

  /** Close sessions unused for longer than gateway_session_idle_secs. */
  sweep(): void {
    const cutoff = this.now() - this.idleMs;
    for (const s of this.sessions.values())
      if (s.active === 0 && s.lastUsed <= cutoff) {
        this.o.log.debug("mcp gateway session closed after being idle", { key: s.caller?.label });
        void this.closeOne(s);
      }
  }

  private forget(s: Session) {
    if (s.closed) return;
    s.closed = true;
    if (s.id && this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    s.end();
  }

  /** End every session's event stream (clients stop waiting on them), keeping the sessions for calls in flight. */
  closeStreams(): void {
    for (const s of this.sessions.values()) s.transport.closeStandaloneSSEStream();
  }

  /** Close every session (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const [event, f] of this.listeners) this.o.mcp.events.off(event, f);
    await Promise.allSettled([...this.sessions.values()].map((x) => this.closeOne(x)));
  }

  private async closeOne(s: Session) {
    this.forget(s);
    await s.server.close().catch(() => {});
  }

  /** One session's MCP server: every handler answers within what `caller` may use. */
  private serverFor(caller: KeyRule | undefined): Server {
    const { mcp } = this.o;
    const server = new Server(
      { name: "alloy", version: this.o.version },
      {
        capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
        instructions: "Alloy: the tools, prompts and resources of every MCP server it fronts, named <server>__<name>.",
      },
    );
    const opts = (extra: { signal: AbortSignal; requestId: string | number }) => ({ signal: extra.signal, timeoutMs: this.timeoutMs, requestId: String(extra.requestId) });

    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: mcp
        .tools()
        .filter((t) => mcpToolAllowed(caller, t))
        .map((t) => ({
          name: t.name,
          ...(t.title ? { title: t.title } : {}),
          ...(t.description ? { description: t.description } : {}),
          inputSchema: t.inputSchema as { type: "object" },
          ...(t.outputSchema ? { outputSchema: t.outputSchema as { type: "object" } } : {}),
          ...(t.annotations ? { annotations: t.annotations } : {}),
        })),
    }));

    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const name = req.params.name;
      const tool = mcp.lookup(name);
      // Unknown and forbidden tools reach no server; nor does a call over the key's rpm.
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool '${name.slice(0, 200)}'`, { type: "not_found" });
      if (!mcpToolAllowed(caller, tool))
        throw new McpError(ErrorCode.InvalidParams, `The API key '${caller!.label}' is not allowed to use the MCP tool '${name}'`, { type: "permission" });
      let release: () => void;
      try {
        release = await this.o.admit(caller);
      } catch (e) {
        throw toMcpError(e);
      }
      try {
        return await mcp.call(name, req.params.arguments ?? {}, opts(extra));
      } catch (e) {
        throw toMcpError(e);
      } finally {
        release();
      }
    });

    server.setRequestHandler(ListPromptsRequestSchema, () => ({
      prompts: mcp
        .prompts()
        .filter((p) => mcpServerAllowed(caller, p.server))
        .map((p) => ({
          name: p.name,
          ...(p.title ? { title: p.title } : {}),
          ...(p.description ? { description: p.description } : {}),
          ...(p.arguments ? { arguments: p.arguments } : {}),
        })),
    }));

    server.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      const p = mcp.lookupPrompt(req.params.name);
      if (!p || !mcpServerAllowed(caller, p.server)) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt '${req.params.name.slice(0, 200)}'`, { type: "not_found" });
      try {
        return await mcp.getPrompt(p.name, req.params.arguments, opts(extra));
      } catch (e) {
        throw toMcpError(e);
      }
    });

    // Resources are listed live from every connected server the key may use; one failing server is left out.
    const fromEach = async <T>(what: string, list: (server: string) => Promise<T[]>): Promise<T[]> => {
      const servers = mcp.serverNames.filter((s) => mcpServerAllowed(caller, s) && mcp.hasResources(s));
      const results = await Promise.allSettled(servers.map(list));
      const out: T[] = [];
      results.forEach((r, i) => {
        if (r.status === "fulfilled") out.push(...r.value);
        else this.o.log.warn(`mcp gateway: could not list ${what} of '${servers[i]}': ${asAlloyError(r.reason).message}`, { mcpServer: servers[i] });
      });
      return out;
    };

    server.setRequestHandler(ListResourcesRequestSchema, async (_req, extra) => ({
      resources: await fromEach("resources", async (s) =>
        (await mcp.listResources(s, opts(extra))).map((r): Resource => ({ ...r, uri: gatewayUri(s, r.uri), name: namespacedToolName(s, r.name) })),
      ),
    }));

    server.setRequestHandler(ListResourceTemplatesRequestSchema, async (_req, extra) => ({
      resourceTemplates: await fromEach("resource templates", async (s) =>
        (await mcp.listResourceTemplates(s, opts(extra))).map(
          (t): ResourceTemplate => ({ ...t, uriTemplate: gatewayUri(s, t.uriTemplate), name: namespacedToolName(s, t.name) }),
        ),
      ),
    }));

    server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
      const target = parseGatewayUri(req.params.uri);
      if (!target || !mcp.has(target.server) || !mcpServerAllowed(caller, target.server))
        throw new McpError(ErrorCode.InvalidParams, `Unknown resource '${req.params.uri.slice(0, 200)}': expected alloy://<server>/<uri>`, { type: "not_found" });
      try {
        const r = await mcp.readResource(target.server, target.uri, opts(extra));
        return { ...r, contents: r.contents.map((c) => ({ ...c, uri: gatewayUri(target.server, c.uri) })) };
      } catch (e) {
        throw toMcpError(e);
      }
    });

    return server;
  }
}

const OPENED = new TextEncoder().encode(": alloy\n\n");

/**
 * The same event stream, calling `done` once it has been read to the end or cancelled. It opens with a comment:
 * Bun sends a streamed response's headers with its first bytes, and the SDK's stream writes nothing until there is
 * something to say (or its 15 s keep-alive), so a client would otherwise wait that long to learn the stream is open.
 */
function tracked(res: Response, done: () => void): Response {
  const reader = res.body!.getReader();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(OPENED);
    },
    async pull(c) {
      try {
        const r = await reader.read();
        if (r.done) {
          done();
          c.close();
        } else c.enqueue(r.value);
      } catch (e) {
        done();
        c.error(e);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, headers: res.headers });
}

