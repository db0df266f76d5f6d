// `[observability.tracing]` and the standard OpenTelemetry variables → the tracing the gateway runs with, or none.
// Variables win over the file (as ALLOY_* ones do): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a full URL), then
// OTEL_EXPORTER_OTLP_ENDPOINT and `otlp_endpoint` (base URLs, `/v1/traces` appended); OTEL_SERVICE_NAME (default
// `alloy`); OTEL_TRACES_SAMPLER_ARG (the sampling ratio); OTEL_SDK_DISABLED=true turns tracing off.
import type { TracingConfig } from "../observability/tracing.ts";
import type { TracingFileConfig } from "./schema.ts";

type Env = Record<string, string | undefined>;

export class TracingConfigError extends Error {}

function url(where: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new TracingConfigError(`${where}: expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TracingConfigError(`${where}: expected an http(s) URL, got ${JSON.stringify(value)}`);
  return value;
}

const traces = (base: string) => `${base.replace(/\/+$/, "")}/v1/traces`;

/** `file`: the config file's name, for messages about its keys. */
export function resolveTracing(file: string, t: TracingFileConfig | undefined, env: Env): TracingConfig | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  let endpoint: string | undefined;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) endpoint = url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  else if (env.OTEL_EXPORTER_OTLP_ENDPOINT) endpoint = traces(url("OTEL_EXPORTER_OTLP_ENDPOINT", env.OTEL_EXPORTER_OTLP_ENDPOINT));
  else if (t?.otlp_endpoint) endpoint = traces(url(`${file}: observability.tracing.otlp_endpoint`, t.otlp_endpoint));
  if (!endpoint) return undefined;
  let ratio = t?.sampler_ratio ?? 1;
  if (env.OTEL_TRACES_SAMPLER_ARG !== undefined) {
    ratio = Number(env.OTEL_TRACES_SAMPLER_ARG);
    if (!(ratio >= 0 && ratio <= 1))
      throw new TracingConfigError(`OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1, got ${JSON.stringify(env.OTEL_TRACES_SAMPLER_ARG)}`);
  }
  return {
    url: endpoint,
    serviceName: env.OTEL_SERVICE_NAME ?? "alloy",
    samplerRatio: ratio,
    captureContent: t?.capture_content ?? false,
    maxQueueSize: t?.max_queue_size ?? 2048,
    exportTimeoutMs: (t?.export_timeout_secs ?? 10) * 1000,
    scheduledDelayMs: t?.scheduled_delay_ms ?? 1000,
  };
}
