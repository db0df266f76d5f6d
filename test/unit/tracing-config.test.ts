// [observability.tracing] and the OTEL_* variables: when tracing is on, where it exports, and what is refused.
import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../helpers/config.ts";
import { writeConfig } from "../helpers/gateway.ts";

const load = (toml: string, env: Record<string, string> = {}) => loadConfig({ config: writeConfig(toml) }, env);
const FILE = `[observability.tracing]\notlp_endpoint = "http://localhost:4318/"\n`;

describe("tracing config", () => {
  test("off unless an endpoint is configured", async () => {
    expect((await load("")).tracing).toBeUndefined();
    expect((await load("[observability.tracing]\ncapture_content = true\n")).tracing).toBeUndefined();
  });

  test("otlp_endpoint is a base URL: /v1/traces is appended; defaults", async () => {
    expect((await load(FILE)).tracing).toEqual({
      url: "http://localhost:4318/v1/traces",
      serviceName: "alloy",
      samplerRatio: 1,
      captureContent: false,
      maxQueueSize: 2048,
      exportTimeoutMs: 10_000,
      scheduledDelayMs: 1000,
    });
  });

  test("the standard variables: base endpoint, full traces endpoint (wins), service name, sampler ratio", async () => {
    expect((await load("", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).tracing?.url).toBe("http://collector:4318/v1/traces");
    const t = (await load(FILE, {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/otlp/spans",
      OTEL_SERVICE_NAME: "gateway-eu",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
    })).tracing!;
    expect(t).toMatchObject({ url: "https://traces.example/otlp/spans", serviceName: "gateway-eu", samplerRatio: 0.25 });
    expect((await load(FILE, { OTEL_SDK_DISABLED: "true" })).tracing).toBeUndefined();
  });

  test("bad values are one clear line", async () => {
    await expect(load('[observability.tracing]\notlp_endpoint = "localhost:4318"\n')).rejects.toThrow(/observability\.tracing\.otlp_endpoint/);
    await expect(load("[observability.tracing]\nsampler_ratio = 2\n")).rejects.toThrow(ConfigError);
    await expect(load("[observability.tracing]\nendpoint = 'x'\n")).rejects.toThrow(/observability\.tracing\.endpoint: unknown key/);
    await expect(load("", { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://x" })).rejects.toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/);
    await expect(load(FILE, { OTEL_TRACES_SAMPLER_ARG: "half" })).rejects.toThrow(/OTEL_TRACES_SAMPLER_ARG/);
  });
});
