// Bedrock runtime calls without the AWS SDK's per-request pipeline: the SDK resolves region, endpoint and credentials
// once (client.ts), and each call is our own SigV4 (sigv4.ts) + plain fetch + our own event-stream decoder
// (eventstream.ts). On a 2-core box that is ~15 µs of signing instead of ~300 µs of middleware per call.
import { AlloyError, asAlloyError } from "../../errors.ts";
import { createBedrockClient, loadBedrockSdk, resolveTarget, staticTarget, type BedrockClientOptions, type ResolvedTarget } from "./client.ts";
import { bedrockException, fromErrorResponse, fromSdkError } from "./errors.ts";
import { DEFAULT_MAX_PAYLOAD, EventStreamDecoder, EventStreamError, type EventMessage } from "./eventstream.ts";
import { escapeUri, sign, type AwsCredentials } from "./sigv4.ts";
import { readBytes } from "../upstream.ts";

export type Operation = "converse" | "converse-stream" | "invoke" | "invoke-with-response-stream" | "count-tokens";

/** `/model/{modelId}/{operation}`, the id escaped as the SDK escapes path labels (ARNs: `:` → %3A, `/` → %2F). */
export const modelPath = (modelId: string, op: Operation) => `/model/${escapeUri(modelId)}/${op}`;

export const DEFAULT_MAX_RESPONSE_SIZE = 32 * 1024 * 1024;

/** Start refreshing temporary credentials this long before they expire (the SDK's own window). */
export const REFRESH_BEFORE_MS = 5 * 60_000;
/** Credentials closer than this to expiry are not used while a refresh runs: the call waits for the new ones. */
const MIN_USABLE_MS = 30_000;
/** After a refresh (good or failed), a background one waits this long: a source that keeps handing out short-lived keys is not hammered. */
const REFRESH_QUIET_MS = 10_000;

/**
 * Credentials memoised in front of the SDK's provider: a synchronous answer on the hot path, a refresh started before
 * expiry (calls keep signing with the current ones meanwhile), one refresh at a time however many calls ask.
 */
export class CredentialsCache {
  private current: AwsCredentials | undefined;
  private refreshing: Promise<AwsCredentials> | undefined;
  private quietUntil = 0;

  constructor(
    private readonly load: () => Promise<AwsCredentials>,
    private readonly now: () => number = Date.now,
  ) {}

  get(): AwsCredentials | Promise<AwsCredentials> {
    const c = this.current;
    if (!c) return this.refresh();
    if (!c.expiration) return c;
    const left = c.expiration.getTime() - this.now();
    if (left > REFRESH_BEFORE_MS) return c;
    if (left > MIN_USABLE_MS) {
      if (!this.refreshing && this.now() >= this.quietUntil) this.refresh().catch(() => {}); // the next call retries
      return c;
    }
    return this.refresh();
  }

  private refresh(): Promise<AwsCredentials> {
    return (this.refreshing ??= this.load()
      .then((c) => {
        if (typeof c?.accessKeyId !== "string" || typeof c.secretAccessKey !== "string") throw new Error("the credential provider returned no key pair");
        this.current = c;
        return c;
      })
      .finally(() => {
        this.refreshing = undefined;
        this.quietUntil = this.now() + REFRESH_QUIET_MS;
      }));
  }
}

export interface TransportOptions extends BedrockClientOptions {
  /** Bytes one answer may have, JSON or the whole event stream (`server.max_response_size` later). */
  maxResponseSize?: number;
  /** Bytes one event-stream frame's payload may have. */
  maxFramePayload?: number;
}

export interface SendOptions {
  signal: AbortSignal;
  /** Extra headers, signed with the rest (lower-case names): `accept`, `x-amzn-bedrock-accept`, … */
  headers?: Record<string, string>;
  /** Headers sent but not signed (the trace's `traceparent`): SigV4 covers only the headers it lists. */
  unsigned?: Record<string, string>;
}

/** An event of an event stream: its `:event-type` and payload. Exception and error frames are thrown instead. */
export interface StreamEvent {
  type: string;
  payload: Uint8Array;
}

interface Ready {
  target: ResolvedTarget;
  creds: CredentialsCache;
  destroy(): void;
}

const utf8 = new TextDecoder();

export class BedrockTransport {
  readonly maxResponseSize: number;
  readonly maxFramePayload: number;
  private ready: Ready | undefined;
  private starting: Promise<Ready> | undefined;
  /** `${op} ${modelId}` → the encoded path: a gateway calls a handful of models, over and over. */
  private readonly paths = new Map<string, string>();

  constructor(
    readonly provider: string,
    private readonly cfg: TransportOptions,
  ) {
    this.maxResponseSize = cfg.maxResponseSize ?? DEFAULT_MAX_RESPONSE_SIZE;
    this.maxFramePayload = cfg.maxFramePayload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** The SDK is loaded and asked for region, endpoint and credential chain on the first call, once (unless the config leaves nothing to ask). */
  private start(): Promise<Ready> {
    return (this.starting ??= (async () => {
      const fixed = staticTarget(this.cfg);
      if (fixed) return (this.ready = { target: fixed, creds: new CredentialsCache(fixed.credentials), destroy: () => {} });
      const client = createBedrockClient(await loadBedrockSdk(), this.cfg);
      const target = await resolveTarget(client, this.cfg);
      return (this.ready = { target, creds: new CredentialsCache(target.credentials), destroy: () => client.destroy() });
    })().catch((e: unknown) => {
      this.starting = undefined; // a later call tries again (e.g. a profile file that appears)
      throw e;
    }));
  }

  /** POST one operation, signed; a non-2xx answer is thrown as the AlloyError it maps to. */
  async send(op: Operation, modelId: string, body: string | Uint8Array, o: SendOptions): Promise<Response> {
    let url: string;
    let headers: Record<string, string>;
    try {
      const { target, creds } = this.ready ?? (await this.start());
      const c = creds.get();
      const credentials = c instanceof Promise ? await c : c;
      const path = this.pathOf(target, op, modelId);
      url = target.origin + path;
      headers = sign(
        { method: "POST", host: target.host, path, headers: { "content-type": "application/json", ...o.headers }, body },
        credentials,
        target.signingRegion,
        target.signingName,
        new Date(),
      );
      if (o.unsigned) headers = { ...headers, ...o.unsigned };
    } catch (e) {
      throw fromSdkError(this.provider, e);
    }
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers, body, signal: o.signal });
    } catch (e) {
      if (o.signal.aborted) throw asAlloyError(o.signal.reason);
      throw new AlloyError("network", `${this.provider} connection failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (res.ok) return res;
    let text = "";
    try {
      text = utf8.decode(await this.readAll(res, o.signal, 64 * 1024));
    } catch (e) {
      if (o.signal.aborted) throw asAlloyError(o.signal.reason);
      // a cut or oversized error body: the status and header still classify it
    }
    throw fromErrorResponse(this.provider, res.status, res.headers.get("x-amzn-errortype"), text);
  }

  private pathOf(target: ResolvedTarget, op: Operation, modelId: string): string {
    const key = `${op} ${modelId}`;
    let path = this.paths.get(key);
    if (path === undefined) {
      if (this.paths.size >= 1024) this.paths.clear();
      this.paths.set(key, (path = target.basePath + modelPath(modelId, op)));
    }
    return path;
  }

  /** The whole body, at most `max` bytes (a larger one is an error, and its connection is dropped). */
  readAll(res: Response, signal: AbortSignal, max = this.maxResponseSize): Promise<Uint8Array> {
    return readBytes(res, max, {
      tooLarge: () => new AlloyError("server", `${this.provider} sent an answer larger than ${max} bytes`),
      cut: (e) =>
        signal.aborted
          ? asAlloyError(signal.reason)
          : new AlloyError("network", `${this.provider} connection failed while reading the answer: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
    });
  }

  /**
   * The events of an event-stream answer, in order. Exception frames (`:message-type` exception or error) are thrown
   * as the AlloyError their name maps to; a broken frame, a cut stream or an answer over the size limit are errors
   * too. Leaving the loop early cancels the body, which closes the upstream connection.
   */
  async *events(res: Response, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    if (!res.body) throw new AlloyError("server", `${this.provider} answered without an event stream`);
    const decoder = new EventStreamDecoder(this.maxFramePayload);
    const reader = res.body.getReader();
    let size = 0;
    let done = false;
    try {
      for (;;) {
        const r = await reader.read().catch((e: unknown) => {
          if (signal.aborted) throw asAlloyError(signal.reason);
          throw new AlloyError("network", `${this.provider} connection failed mid-stream: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        });
        if (r.done) {
          done = true;
          break;
        }
        size += r.value.length;
        if (size > this.maxResponseSize) throw new AlloyError("server", `${this.provider} sent a stream larger than ${this.maxResponseSize} bytes`);
        for (const m of decoder.push(r.value)) {
          const ev = this.event(m);
          if (ev) yield ev;
        }
      }
      decoder.end();
    } catch (e) {
      if (e instanceof EventStreamError) throw new AlloyError("server", `${this.provider} sent a broken event stream: ${e.message}`);
      throw e;
    } finally {
      if (!done) reader.cancel().catch(() => {});
    }
  }

  private event(m: EventMessage): StreamEvent | undefined {
    const h = m.headers;
    const kind = h[":message-type"]?.value;
    if (kind === "exception") {
      let message: string | undefined;
      try {
        message = (JSON.parse(utf8.decode(m.payload)) as { message?: string }).message;
      } catch {
        message = undefined;
      }
      throw bedrockException(this.provider, String(h[":exception-type"]?.value ?? "UnknownException"), message);
    }
    if (kind === "error") throw bedrockException(this.provider, String(h[":error-code"]?.value ?? "UnknownError"), String(h[":error-message"]?.value ?? ""));
    if (kind !== undefined && kind !== "event") return undefined; // nothing else is defined; newer kinds are skipped
    return { type: String(h[":event-type"]?.value ?? ""), payload: m.payload };
  }

  close(): void {
    this.ready?.destroy();
  }
}
