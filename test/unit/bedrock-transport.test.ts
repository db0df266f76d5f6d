// The Bedrock transport: credentials memoised in front of the SDK's chain, the endpoint from the SDK's rules, and
// calls (Converse streams, InvokeModel, InvokeModelWithResponseStream) sent with our signer to the mock Bedrock, which
// recomputes every signature with the SDK's SignatureV4. Limits (frame payload, whole answer) and cut streams.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlloyError } from "../../src/errors.ts";
import type { ChatChunk, ChatRequest } from "../../src/openai/schema.ts";
import { BedrockProvider } from "../../src/providers/bedrock.ts";
import { createBedrockClient, loadBedrockSdk, resolveTarget, staticTarget } from "../../src/providers/bedrock/client.ts";
import type { AwsCredentials } from "../../src/providers/bedrock/sigv4.ts";
import { CredentialsCache, REFRESH_BEFORE_MS } from "../../src/providers/bedrock/transport.ts";
import {
  anthropicEvents,
  bedrockError,
  chunkFrames,
  encodeFrame,
  eventStreamResponse,
  jsonResponse,
  startBedrockMock,
  textFrames,
  type BedrockMock,
} from "../mocks/bedrock-upstream.ts";

const REGION = "eu-central-1";
const KEY = "AKIATRANSPORTTEST001";
const SECRET = "transportTestSecret/+xyz";
const ARN = `arn:aws:bedrock:${REGION}:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0`;

let mock: BedrockMock;
const provider = (extra: Record<string, unknown> = {}, maxResponseSize?: number) =>
  new BedrockProvider(
    "bedrock",
    { region: REGION, endpoint: mock.url, access_key_id: KEY, secret_access_key: SECRET, ...extra } as never,
    maxResponseSize === undefined ? {} : { maxResponseSize },
  );
const signal = () => new AbortController().signal;
const chatReq: ChatRequest = { model: "bedrock/m", messages: [{ role: "user", content: "hi" }] } as ChatRequest;

async function collect<T>(it: AsyncIterable<T>): Promise<{ items: T[]; error?: AlloyError }> {
  const items: T[] = [];
  try {
    for await (const x of it) items.push(x);
  } catch (e) {
    return { items, error: e as AlloyError };
  }
  return { items };
}

beforeAll(() => {
  mock = startBedrockMock({ accessKeyId: KEY, secretAccessKey: SECRET, region: REGION });
});
afterAll(() => mock.stop());

describe("credentials cache", () => {
  const creds = (id: string, expiresAt?: number): AwsCredentials => ({
    accessKeyId: id,
    secretAccessKey: "s",
    ...(expiresAt === undefined ? {} : { expiration: new Date(expiresAt) }),
  });

  /** A cache whose every load waits for the test: `pending[i]` is the i-th load's promise, settled by hand. */
  const manualCache = (clock: () => number) => {
    const pending: Array<PromiseWithResolvers<AwsCredentials>> = [];
    const cache = new CredentialsCache(() => {
      pending.push(Promise.withResolvers<AwsCredentials>());
      return pending[pending.length - 1]!.promise;
    }, clock);
    return { pending, cache };
  };

  test("long-lived keys load once and are then answered synchronously; concurrent first calls share one load", async () => {
    let loads = 0;
    const { promise, resolve } = Promise.withResolvers<AwsCredentials>();
    const cache = new CredentialsCache(() => (loads++, promise));
    const a = cache.get();
    const b = cache.get();
    expect(a).toBeInstanceOf(Promise);
    resolve(creds("K1"));
    expect([(await a).accessKeyId, (await b).accessKeyId]).toEqual(["K1", "K1"]);
    expect(cache.get()).toEqual(creds("K1")); // not a promise any more
    expect(loads).toBe(1);
  });

  test("temporary keys are refreshed before they expire: calls keep the current ones meanwhile, one refresh for all", async () => {
    let now = 1_000_000;
    const { pending, cache } = manualCache(() => now);
    const first = cache.get();
    pending[0]!.resolve(creds("OLD", now + 60 * 60_000));
    expect((await first).accessKeyId).toBe("OLD");
    now += 60 * 60_000 - REFRESH_BEFORE_MS + 1; // inside the refresh window, minutes before expiry
    expect((cache.get() as AwsCredentials).accessKeyId).toBe("OLD");
    expect((cache.get() as AwsCredentials).accessKeyId).toBe("OLD");
    expect(pending.length).toBe(2); // one refresh started, not two
    pending[1]!.resolve(creds("NEW", now + 60 * 60_000));
    await pending[1]!.promise;
    await Promise.resolve();
    expect((cache.get() as AwsCredentials).accessKeyId).toBe("NEW");
  });

  test("keys about to expire are not used: calls wait for the refresh; a failed refresh fails them and the next call retries", async () => {
    let now = 5_000_000;
    const { pending, cache } = manualCache(() => now);
    const first = cache.get();
    pending[0]!.resolve(creds("OLD", now + 20_000)); // 20 s left
    await first;
    const a = cache.get();
    const b = cache.get();
    expect(a).toBeInstanceOf(Promise);
    expect(pending.length).toBe(2);
    pending[1]!.reject(new Error("IMDS down"));
    await expect(a).rejects.toThrow("IMDS down");
    await expect(b).rejects.toThrow("IMDS down");
    const c = cache.get();
    expect(pending.length).toBe(3);
    pending[2]!.resolve(creds("NEW", now + 60 * 60_000));
    expect((await c).accessKeyId).toBe("NEW");
  });
});

describe("endpoint and credentials from the SDK", () => {
  test("the endpoint comes from the SDK's rules for the region; an override is used as given, base path kept", async () => {
    const sdk = await loadBedrockSdk();
    const plain = await resolveTarget(createBedrockClient(sdk, { region: "eu-west-1", access_key_id: "A", secret_access_key: "B" }), { region: "eu-west-1" });
    expect(plain).toMatchObject({ baseUrl: "https://bedrock-runtime.eu-west-1.amazonaws.com", host: "bedrock-runtime.eu-west-1.amazonaws.com", basePath: "", signingRegion: "eu-west-1", signingName: "bedrock" });
    const over = { region: "us-east-1", endpoint: "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com:8443/proxy/" };
    const custom = await resolveTarget(createBedrockClient(sdk, over), over);
    expect(custom).toMatchObject({ baseUrl: "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com:8443/proxy", host: "vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com:8443", basePath: "/proxy" });
  });

  test("static keys and an explicit endpoint resolve without the SDK, to exactly what the SDK's rules give", async () => {
    const sdk = await loadBedrockSdk();
    for (const endpoint of ["http://127.0.0.1:9000/base/", "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com:8443/proxy/", "https://bedrock-runtime.eu-west-1.amazonaws.com"]) {
      const o = { region: "eu-west-1", endpoint, access_key_id: KEY, secret_access_key: SECRET, session_token: "tok" };
      const viaSdk = await resolveTarget(createBedrockClient(sdk, o), o);
      const fixed = staticTarget(o)!;
      const { credentials: a, ...sdkRest } = viaSdk;
      const { credentials: b, ...fixedRest } = fixed;
      expect(fixedRest).toEqual(sdkRest);
      expect(await a()).toEqual(expect.objectContaining(await b())); // the SDK adds its own $source marker
    }
    // Anything left to resolve goes to the SDK.
    expect(staticTarget({ region: "eu-west-1", access_key_id: KEY, secret_access_key: SECRET })).toBeUndefined();
    expect(staticTarget({ region: "eu-west-1", endpoint: "http://127.0.0.1:1" })).toBeUndefined();
  });

  test("a provider with static keys and an endpoint never loads the AWS SDK (a fresh process, signed calls verified by the mock)", async () => {
    mock.script = () => jsonResponse({ ok: true });
    const before = mock.calls.length;
    const dir = mkdtempSync(join(tmpdir(), "alloy-bedrock-nosdk-"));
    const script = join(dir, "probe.ts");
    const src = join(import.meta.dir, "../../src/providers/bedrock.ts");
    writeFileSync(
      script,
      `import { BedrockProvider } from ${JSON.stringify(src)};
const p = new BedrockProvider("bedrock", { region: ${JSON.stringify(REGION)}, endpoint: ${JSON.stringify(mock.url)}, access_key_id: ${JSON.stringify(KEY)}, secret_access_key: ${JSON.stringify(SECRET)} }, {});
const out = await p.invoke("m", "{}", { signal: new AbortController().signal });
console.log(JSON.stringify({ body: out.body, sdk: Object.keys(require.cache).filter((k) => k.includes("@aws-sdk") || k.includes("@smithy")).length }));`,
    );
    try {
      const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(JSON.parse(out)).toEqual({ body: '{"ok":true}', sdk: 0 });
      expect(mock.calls.length).toBe(before + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("without static keys the SDK's default chain is used (here: the environment, with a session token)", async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, token: process.env.AWS_SESSION_TOKEN };
    process.env.AWS_ACCESS_KEY_ID = KEY;
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    process.env.AWS_SESSION_TOKEN = "envSessionToken//x==";
    try {
      mock.script = () => jsonResponse({ ok: true });
      const before = mock.calls.length;
      const p = new BedrockProvider("bedrock", { region: REGION, endpoint: mock.url } as never);
      const out = await p.invoke("m", "{}", { signal: signal() });
      expect(out.body).toBe('{"ok":true}');
      expect(mock.calls[before]!.headers["x-amz-security-token"]).toBe("envSessionToken//x==");
      p.close();
    } finally {
      for (const [k, v] of [["AWS_ACCESS_KEY_ID", saved.id], ["AWS_SECRET_ACCESS_KEY", saved.secret], ["AWS_SESSION_TOKEN", saved.token]] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

describe("InvokeModel", () => {
  test("invoke: the native body goes to /model/{ARN}/invoke signed (the mock verifies it); the answer comes back as sent", async () => {
    mock.script = (call) => jsonResponse({ echo: call.body, path: call.operation });
    const before = mock.calls.length;
    const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 5, messages: [{ role: "user", content: "Grüße" }] });
    const out = await provider().invoke(ARN, body, { signal: signal() });
    expect(JSON.parse(out.body)).toEqual({ echo: JSON.parse(body), path: "invoke" });
    expect(out.contentType).toBe("application/json");
    expect(out.requestId).toMatch(/^00000000-/);
    expect(mock.calls[before]!.modelId).toBe(ARN);
    expect(mock.calls[before]!.headers.accept).toBe("application/json");
  });

  test("invokeStream: yields each chunk's decoded inner payload (Claude's native events) in order", async () => {
    mock.script = () => eventStreamResponse(chunkFrames(anthropicEvents(["Hel", "lo"])));
    const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
    const { items, error } = await collect(provider().invokeStream(ARN, body, { signal: signal() }));
    expect(error).toBeUndefined();
    const events = items.map((t) => JSON.parse(t));
    expect(events.map((e) => e.type)).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    expect(events.filter((e) => e.delta?.text).map((e) => e.delta.text).join("")).toBe("Hello");
    expect(mock.calls[mock.calls.length - 1]!.headers["x-amzn-bedrock-accept"]).toBe("application/json");
  });

  test("errors: an error answer and an exception frame mid-stream map like Converse's", async () => {
    mock.script = () => bedrockError(429, "ThrottlingException", "Too many requests");
    const e1 = await provider().invoke("m", "{}", { signal: signal() }).catch((e) => e);
    expect([e1 instanceof AlloyError, e1.kind, e1.status, e1.message]).toEqual([true, "rate_limit", 429, "Too many requests"]);
    mock.script = () => eventStreamResponse([...chunkFrames(anthropicEvents(["a"]).slice(0, 2)), { exception: "modelStreamErrorException", message: "model broke" }]);
    const { items, error } = await collect(provider().invokeStream("m", "{}", { signal: signal() }));
    expect(items.length).toBe(2);
    expect([error?.kind, error?.message]).toEqual(["server", "model broke"]);
  });

  test("a wrong secret is refused by the mock's signature check (proof that it checks)", async () => {
    const before = mock.rejected.length;
    const e = await provider({ secret_access_key: "not-the-secret" }).invoke("m", "{}", { signal: signal() }).catch((x) => x);
    expect([e.kind, e.status]).toEqual(["permission", 403]);
    expect(mock.rejected.slice(before).map((r) => r.type)).toEqual(["InvalidSignatureException"]);
  });
});

describe("stream and answer limits", () => {
  test("a ConverseStream that ends without messageStop throws a server error saying so", async () => {
    mock.script = () => eventStreamResponse(textFrames(["cut"]).slice(0, 2));
    const { items, error } = await collect(provider().chatStream(chatReq, { model: "m", signal: signal(), requestId: "r" }));
    expect(items.map((p) => p.chunk.choices[0]?.delta?.content).join("")).toBe("cut");
    expect(error).toBeInstanceOf(AlloyError);
    expect([error!.kind, error!.message]).toEqual(["server", "bedrock ended the stream before messageStop"]);
  });

  test("a frame whose payload passes 1 MiB ends the stream with an error", async () => {
    mock.script = () =>
      eventStreamResponse([{ event: "messageStart", body: { role: "assistant" } }, { event: "contentBlockDelta", body: { contentBlockIndex: 0, delta: { text: "x".repeat(1024 * 1024) } } }]);
    const { error } = await collect(provider().chatStream(chatReq, { model: "m", signal: signal(), requestId: "r" }));
    expect(error?.kind).toBe("server");
    expect(error?.message).toContain("over the 1048576-byte limit");
  });

  test("a stream cut inside a frame, and a frame with a broken CRC, are errors", async () => {
    const frames = textFrames(["a", "b"]).map(encodeFrame);
    const cut = frames.slice(0, 3).concat(frames[3]!.slice(0, 10));
    mock.script = () => new Response(Buffer.concat(cut), { headers: { "content-type": "application/vnd.amazon.eventstream" } });
    const r1 = await collect(provider().chatStream(chatReq, { model: "m", signal: signal(), requestId: "r" }));
    expect(r1.error?.message).toContain("ended inside a frame");
    const bad = frames.map((f) => f.slice());
    bad[2]![bad[2]!.length - 1]! ^= 1;
    mock.script = () => new Response(Buffer.concat(bad), { headers: { "content-type": "application/vnd.amazon.eventstream" } });
    const r2 = await collect(provider().chatStream(chatReq, { model: "m", signal: signal(), requestId: "r" }));
    expect([r2.error?.kind, r2.error?.message]).toEqual(["server", "bedrock sent a broken event stream: event-stream message CRC mismatch"]);
  });

  test("the whole answer is bounded by maxResponseSize: a JSON body and a stream over it are errors", async () => {
    mock.script = () => jsonResponse({ output: { message: { role: "assistant", content: [{ text: "y".repeat(5000) }] } }, stopReason: "end_turn" });
    const e = await provider({}, 4096).chat(chatReq, { model: "m", signal: signal(), requestId: "r" }).catch((x) => x);
    expect([e.kind, e.message]).toEqual(["server", "bedrock sent an answer larger than 4096 bytes"]);
    expect((await provider({}, 8192).chat(chatReq, { model: "m", signal: signal(), requestId: "r" })).value.choices[0]!.message.content).toHaveLength(5000);
    mock.script = () => eventStreamResponse(textFrames(Array.from({ length: 100 }, () => "z".repeat(100))));
    const { error } = await collect(provider({}, 4096).chatStream(chatReq, { model: "m", signal: signal(), requestId: "r" }));
    expect(error?.message).toBe("bedrock sent a stream larger than 4096 bytes");
    // the default is 32 MiB
    expect(new BedrockProvider("b", { region: REGION } as never)["transport"].maxResponseSize).toBe(32 * 1024 * 1024);
  });
});
