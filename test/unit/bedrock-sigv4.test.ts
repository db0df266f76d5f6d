// Our SigV4 against the AWS SDK's own SignatureV4 (@smithy/signature-v4): the same request, credentials and clock must
// give byte-identical headers. The requests are the ones the Bedrock transport sends (Converse, ConverseStream,
// InvokeModel with an ARN and with an inference-profile id), with and without a session token, unicode in the body.
import { describe, expect, test } from "bun:test";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { amzDate, canonicalPath, sign, signingKey, type AwsCredentials, type SignableRequest } from "../../src/providers/bedrock/sigv4.ts";
import { modelPath } from "../../src/providers/bedrock/transport.ts";

const REGION = "us-west-2";
const HOST = `bedrock-runtime.${REGION}.amazonaws.com`;
const DATE = new Date("2025-03-14T15:09:26.535Z");
const LONG_LIVED: AwsCredentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const TEMPORARY: AwsCredentials = {
  accessKeyId: "ASIAEXAMPLETEMP00001",
  secretAccessKey: "tempSecret/With+Slashes=",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE//session+token==",
};
const ARN = "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0";
const PROFILE = "us.anthropic.claude-3-5-haiku-20241022-v1:0";

const converseBody = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "Grüße, 世界! Emoji 🦀 and a \"quote\" \\ backslash" }] }],
  system: [{ text: "Réponds en français." }],
  inferenceConfig: { maxTokens: 64 },
});

const cases: Array<{ name: string; req: SignableRequest }> = [
  {
    name: "Converse (unicode body)",
    req: { method: "POST", host: HOST, path: modelPath("anthropic.claude-3-haiku-20240307-v1:0", "converse"), headers: { "content-type": "application/json", accept: "application/json" }, body: converseBody },
  },
  {
    name: "ConverseStream",
    req: {
      method: "POST",
      host: HOST,
      path: modelPath(PROFILE, "converse-stream"),
      headers: { "content-type": "application/json", accept: "application/vnd.amazon.eventstream" },
      body: converseBody,
    },
  },
  {
    name: "InvokeModel, ARN model id (':' and '/' encoded)",
    req: {
      method: "POST",
      host: HOST,
      path: modelPath(ARN, "invoke"),
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 10, messages: [{ role: "user", content: "ñ" }] }),
    },
  },
  {
    name: "InvokeModelWithResponseStream, inference-profile id, bytes body, host with port",
    req: {
      method: "POST",
      host: "127.0.0.1:8443",
      path: modelPath(PROFILE, "invoke-with-response-stream"),
      headers: { "content-type": "application/json", "x-amzn-bedrock-accept": "*/*", "user-agent": "alloy" },
      body: new TextEncoder().encode(JSON.stringify({ prompt: "\u2028 line separator" })),
    },
  },
];

async function sdkSign(req: SignableRequest, creds: AwsCredentials): Promise<Record<string, string>> {
  const signer = new SignatureV4({ credentials: creds, region: REGION, service: "bedrock", sha256: Sha256 });
  const [hostname, port] = req.host.split(":");
  const signed = await signer.sign(
    { method: req.method, protocol: "https:", hostname: hostname!, ...(port ? { port: Number(port) } : {}), path: req.path, query: {}, headers: { ...req.headers, host: req.host }, body: req.body },
    { signingDate: DATE },
  );
  const { host: _host, ...headers } = signed.headers;
  return headers;
}

describe("SigV4 signing", () => {
  for (const creds of [LONG_LIVED, TEMPORARY])
    for (const c of cases)
      test(`${c.name}, ${creds.sessionToken ? "with" : "without"} a session token: headers identical to the SDK's SignatureV4`, async () => {
        const ours = sign(c.req, creds, REGION, "bedrock", DATE);
        const theirs = await sdkSign(c.req, creds);
        expect(ours).toEqual(theirs);
        // toEqual ignores key order, so compare the serialised form too: byte for byte, names sorted.
        const bytes = (h: Record<string, string>) => JSON.stringify(Object.entries(h).sort(([a], [b]) => a.localeCompare(b)));
        expect(bytes(ours)).toBe(bytes(theirs));
        expect(ours.authorization).toStartWith(`AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/20250314/${REGION}/bedrock/aws4_request, SignedHeaders=`);
        expect("x-amz-security-token" in ours).toBe(!!creds.sessionToken);
      });

  test("model ids in the path are encoded as the SDK does: ':' and '/' escaped once on the wire, twice when signed", () => {
    expect(modelPath(ARN, "invoke")).toBe(
      "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke",
    );
    expect(canonicalPath(modelPath(PROFILE, "converse"))).toBe("/model/us.anthropic.claude-3-5-haiku-20241022-v1%253A0/converse");
    expect(modelPath("a(b)*'!", "converse")).toBe("/model/a%28b%29%2A%27%21/converse");
  });

  test("amz dates drop the milliseconds; the signing key is computed once per day, region and service", () => {
    expect(amzDate(DATE)).toEqual({ long: "20250314T150926Z", short: "20250314" });
    const creds = { ...LONG_LIVED };
    const k1 = signingKey(creds, "20250314", REGION, "bedrock");
    expect(signingKey(creds, "20250314", REGION, "bedrock")).toBe(k1);
    expect(signingKey(creds, "20250315", REGION, "bedrock")).not.toEqual(k1);
    expect(signingKey(creds, "20250314", "eu-west-1", "bedrock")).not.toEqual(k1);
    // the same key bytes for an equal but new credentials object: the cache only saves work
    expect(signingKey({ ...LONG_LIVED }, "20250314", REGION, "bedrock")).toEqual(k1);
  });
});
