// Gateway key checks on plain Request objects: header parsing, the guard's path rules, the open-relay warning.
import { describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { ServerConfig } from "../../src/config/schema.ts";
import { AlloyError } from "../../src/errors.ts";
import { GatewayAuth, isLoopback, openRelayWarning, presentedKeys, rawPath } from "../../src/http/auth.ts";

const server = (extra: Record<string, unknown> = {}): ServerConfig => Value.Default(ServerConfig, { ...extra }) as ServerConfig;
const req = (path: string, headers: Record<string, string> = {}) => new Request(`http://gw.test${path}`, { headers });

/** The 401 a request gets from the guard, if any. */
const denied = (a: GatewayAuth, r: Request, id: string) => {
  const x = a.check(r, id);
  return "denied" in x ? x.denied : undefined;
};
const callerOf = (a: GatewayAuth, r: Request) => {
  const x = a.check(r, "r");
  return "caller" in x ? x.caller : undefined;
};

describe("presentedKeys", () => {
  test("Bearer in any case, x-api-key, both, neither", () => {
    expect(presentedKeys(new Headers({ authorization: "Bearer abc" }))).toEqual(["abc"]);
    expect(presentedKeys(new Headers({ authorization: "bearer   abc  " }))).toEqual(["abc"]);
    expect(presentedKeys(new Headers({ "x-api-key": "k" }))).toEqual(["k"]);
    expect(presentedKeys(new Headers({ authorization: "Bearer a", "x-api-key": "b" }))).toEqual(["a", "b"]);
    expect(presentedKeys(new Headers({ authorization: "Basic dXNlcjpwYXNz" }))).toEqual([]);
    expect(presentedKeys(new Headers({ authorization: "Bearer " }))).toEqual([]);
    expect(presentedKeys(new Headers({ authorization: "BEARER\tk2" }))).toEqual(["k2"]);
    expect(presentedKeys(new Headers({ authorization: "Bearerabc" }))).toEqual([]);
    expect(presentedKeys(new Headers({ authorization: "Bear abc" }))).toEqual([]);
    expect(presentedKeys(new Headers({ authorization: "Bearer a b" }))).toEqual(["a b"]);
    expect(presentedKeys(new Headers())).toEqual([]);
  });
});

describe("rawPath", () => {
  test("the path as the router sees it: not normalised, without query or fragment", () => {
    expect(rawPath("http://h:1/v1/models?x=1")).toBe("/v1/models");
    expect(rawPath("http://h/health#x")).toBe("/health#x");
    expect(rawPath("http://h")).toBe("/");
    expect(rawPath("http://h//metrics")).toBe("//metrics");
    // What Bun hands over when the Host header is unusable: the bare request target.
    expect(rawPath("/v1/models?a=b")).toBe("/v1/models");
  });
});

describe("GatewayAuth", () => {
  const auth = new GatewayAuth(
    server({ api_keys: ["k1", "k2"], keys: { team: { key: "team-key", rpm: 5, models: ["smart"] } }, metrics_api_key: "m" }),
  );

  test("identify: the matching key's rule, 401s otherwise", () => {
    expect(auth.identify(req("/v1/models", { authorization: "Bearer k2" }))).toEqual({ label: "api_keys[1]" });
    expect(auth.identify(req("/v1/models", { "x-api-key": "team-key" }))).toEqual({
      label: "team",
      rpm: 5,
      maxConcurrent: undefined,
      models: ["smart"],
    });
    const missing = (() => {
      try {
        auth.identify(req("/v1/models"));
      } catch (e) {
        return e;
      }
    })();
    expect(missing).toBeInstanceOf(AlloyError);
    expect((missing as AlloyError).status).toBe(401);
    expect(() => auth.identify(req("/v1/models", { authorization: "Bearer k3" }))).toThrow("Invalid API key");
    // A key's prefix or extension is not the key.
    expect(() => auth.identify(req("/v1/models", { authorization: "Bearer k" }))).toThrow("Invalid API key");
    expect(() => auth.identify(req("/v1/models", { authorization: "Bearer k11" }))).toThrow("Invalid API key");
  });

  test("guard: probes open, everything else keyed, /metrics by its own key; the caller is remembered", () => {
    expect(denied(auth, req("/health"), "r")).toBeUndefined();
    expect(denied(auth, req("/ready"), "r")).toBeUndefined();
    expect(denied(auth, req("/health/"), "r")?.status).toBe(401);
    expect(denied(auth, req("//health"), "r")?.status).toBe(401);
    expect(denied(auth, req("/v1/chat/completions"), "r")?.status).toBe(401);
    expect(denied(auth, req("/anything"), "r")?.status).toBe(401);
    expect(denied(auth, req("/metrics"), "r")?.status).toBe(401);
    expect(denied(auth, req("/metrics", { authorization: "Bearer k1" }), "r")?.status).toBe(401);
    expect(denied(auth, req("/metrics", { authorization: "Bearer m" }), "r")).toBeUndefined();
    // A '/' after the path could make another parser see another route: never a probe, and every check applies.
    expect(denied(auth, req("/health?/v1/models"), "r")?.status).toBe(401);
    expect(denied(auth, req("/ready?x=/y"), "r")?.status).toBe(401);
    expect(denied(auth, req("/health?x=1"), "r")).toBeUndefined();
    expect(denied(auth, req("/v1/x?/metrics", { authorization: "Bearer k1" }), "r")?.status).toBe(401);
    expect(denied(auth, req("/v1/x?/metrics", { authorization: "Bearer m" }), "r")?.status).toBe(401);
    const r = req("/v1/models", { authorization: "Bearer team-key" });
    expect(denied(auth, r, "r")).toBeUndefined();
    expect(callerOf(auth, r)?.label).toBe("team");
    expect(callerOf(auth, req("/health"))).toBeUndefined();
  });

  test("a 401 carries the request id and never the presented key", async () => {
    const res = denied(auth, req("/v1/models", { authorization: "Bearer secret-guess" }), "req-9")!;
    expect(res.headers.get("x-request-id")).toBe("req-9");
    const body = await res.text();
    expect(body).not.toContain("secret-guess");
    expect(JSON.parse(body).error).toEqual({ message: "Invalid API key", type: "authentication_error", param: null, code: "invalid_api_key" });
  });

  test("admit and checkModel: 429 with retry-after, 403 naming the label only", () => {
    const caller = auth.identify(req("/", { authorization: "Bearer team-key" }))!;
    for (let i = 0; i < 5; i++) (auth.admit(caller) as () => void)();
    let err: AlloyError | undefined;
    try {
      auth.admit(caller);
    } catch (e) {
      err = e as AlloyError;
    }
    expect(err?.status).toBe(429);
    expect(err?.retryAfterMs).toBeGreaterThan(0);
    expect(err?.message).not.toContain("team-key");
    expect(() => auth.checkModel(caller, "smart")).not.toThrow();
    expect(() => auth.checkModel(caller, "mock/x")).toThrow("The API key 'team' is not allowed to use the model 'mock/x'");
    expect(() => auth.checkModel(undefined, "mock/x")).not.toThrow();
  });

  test("without keys nothing is guarded; metrics_require_key alone guards /metrics only", () => {
    const off = new GatewayAuth(server());
    expect(off.enabled).toBe(false);
    expect(off.guarding).toBe(false);
    expect(denied(off, req("/v1/models"), "r")).toBeUndefined();
    const metricsOnly = new GatewayAuth(server({ metrics_api_key: "m" }));
    expect(metricsOnly.guarding).toBe(true);
    expect(denied(metricsOnly, req("/v1/models"), "r")).toBeUndefined();
    expect(denied(metricsOnly, req("/metrics"), "r")?.status).toBe(401);
  });
});

describe("open relay warning", () => {
  test("loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST"]) expect(isLoopback(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "example.com", "127.0.0.1.nip.io"]) expect(isLoopback(h)).toBe(false);
  });

  test("warns only when keyless and reachable from other machines", () => {
    expect(openRelayWarning(server({ host: "0.0.0.0" }))).toContain("no gateway keys configured");
    expect(openRelayWarning(server({ host: "0.0.0.0", api_keys: ["k"] }))).toBeUndefined();
    expect(openRelayWarning(server({ host: "0.0.0.0", keys: { a: { key: "k" } } }))).toBeUndefined();
    expect(openRelayWarning(server({ host: "127.0.0.1" }))).toBeUndefined();
  });
});
