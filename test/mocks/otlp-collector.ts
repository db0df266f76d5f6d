// A local OTLP/HTTP trace receiver on loopback: decodes each protobuf ExportTraceServiceRequest (the part of
// opentelemetry/proto/trace/v1 that spans use, below) and keeps the spans, flattened, for tests to inspect.
import protobuf from "protobufjs";

const PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  repeated Event events = 11; uint32 dropped_events_count = 12; Status status = 15;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;

const Request = protobuf.parse(PROTO).root.lookupType("otlp.ExportTraceServiceRequest");

export type AttrValue = string | number | boolean | AttrValue[] | null;

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttrValue>;
  events: Array<{ name: string; attributes: Record<string, AttrValue> }>;
  status: { code: number; message: string };
  resource: Record<string, AttrValue>;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("hex");

function value(v: any): AttrValue {
  if (!v) return null;
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return null;
}

function attrs(list: any[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

const nanos = (v: any): bigint => (v === undefined || v === null ? 0n : BigInt(v.toString()));

export function decodeSpans(body: Uint8Array): CollectedSpan[] {
  const msg = Request.toObject(Request.decode(body), { longs: String, defaults: false }) as any;
  const out: CollectedSpan[] = [];
  for (const rs of msg.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        out.push({
          traceId: hex(protobufBytes(s.traceId)),
          spanId: hex(protobufBytes(s.spanId)),
          parentSpanId: hex(protobufBytes(s.parentSpanId)),
          name: s.name ?? "",
          kind: s.kind ?? 0,
          startNs: nanos(s.startTimeUnixNano),
          endNs: nanos(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: attrs(e.attributes) })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
          resource,
        });
  }
  return out;
}

function protobufBytes(b: unknown): Uint8Array | undefined {
  if (b === undefined || b === null) return undefined;
  if (b instanceof Uint8Array) return b;
  if (typeof b === "string") return Buffer.from(b, "base64");
  return undefined;
}

export interface Collector {
  /** The base URL to configure as `otlp_endpoint` (the receiver serves `/v1/traces`). */
  url: string;
  spans: CollectedSpan[];
  /** Export requests received, with their content type. */
  requests: Array<{ path: string; contentType: string | null }>;
  /** Resolves with the spans `pick` chooses once `done` holds for them (checked on every export that arrives). */
  waitFor(pick: (s: CollectedSpan) => boolean, done: (picked: CollectedSpan[]) => boolean, timeoutMs?: number): Promise<CollectedSpan[]>;
  stop(): void;
}

export function startCollector(): Collector {
  const spans: CollectedSpan[] = [];
  const requests: Collector["requests"] = [];
  let waiters: Array<() => boolean> = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push({ path, contentType: req.headers.get("content-type") });
      if (path !== "/v1/traces") return new Response("not found", { status: 404 });
      spans.push(...decodeSpans(new Uint8Array(await req.arrayBuffer())));
      waiters = waiters.filter((settled) => !settled());
      return new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    spans,
    requests,
    waitFor(pick, done, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const picked = spans.filter(pick);
          if (!done(picked)) return false;
          clearTimeout(t);
          resolve(picked);
          return true;
        };
        const t = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(new Error(`the collector did not get the spans expected: ${JSON.stringify(spans.filter(pick).map((s) => s.name))}`));
        }, timeoutMs);
        if (!check()) waiters.push(check);
      });
    },
    stop: () => server.stop(true),
  };
}
