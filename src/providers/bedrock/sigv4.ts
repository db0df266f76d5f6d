// AWS Signature Version 4 (header form) for one HTTP request, on Bun.CryptoHasher. It follows @smithy/signature-v4's
// SignatureV4 step for step (test/unit/bedrock-sigv4.test.ts compares the two byte for byte): the same signed headers,
// the same double-encoded canonical path, x-amz-content-sha256 added as the SDK's default `applyChecksum` does.
// Pure apart from the signing-key cache (a function of its inputs); the clock is a parameter.

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When temporary credentials stop working; absent for long-lived keys. */
  expiration?: Date;
}

export interface SignableRequest {
  method: string;
  /** The Host header as it goes out: `host` or `host:port` (non-default ports only, as fetch sends it). */
  host: string;
  /** The path exactly as sent (labels already percent-encoded); no query string. */
  path: string;
  /** Lower-case names; every one is signed unless SigV4 says it never is (user-agent, connection, …). */
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** Headers SignatureV4 never signs (its ALWAYS_UNSIGNABLE_HEADERS, plus proxy-* and sec-*). */
const UNSIGNABLE = new Set([
  "authorization",
  "cache-control",
  "connection",
  "expect",
  "from",
  "keep-alive",
  "max-forwards",
  "pragma",
  "referer",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "x-amzn-trace-id",
]);
const signable = (name: string) => !UNSIGNABLE.has(name) && !name.startsWith("proxy-") && !name.startsWith("sec-");

let lastSecond = NaN;
let lastDate = { long: "", short: "" };

/** `20240501T123456Z` and `20240501` (SignatureV4's formatDate); the same second gives the same (cached) strings. */
export function amzDate(date: Date): { long: string; short: string } {
  const second = Math.floor(date.getTime() / 1000);
  if (second === lastSecond) return lastDate;
  const iso = date.toISOString(); // 2024-05-01T12:34:56.789Z
  const short = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10);
  lastSecond = second;
  return (lastDate = { long: `${short}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, short });
}

/** RFC 3986 escaping as the SDK's escapeUri: encodeURIComponent plus ! ' ( ) *. */
export const escapeUri = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The canonical URI: dot segments and empty segments removed, then every byte escaped once more (so `%3A` in a model
 * ARN becomes `%253A`), slashes kept. Every AWS service except S3 expects this double encoding.
 */
export function canonicalPath(path: string): string {
  let c = canonicalPaths.get(path);
  if (c === undefined) {
    if (canonicalPaths.size >= 256) canonicalPaths.clear();
    canonicalPaths.set(path, (c = computeCanonicalPath(path)));
  }
  return c;
}

/** A gateway calls a handful of models: their canonical paths are computed once. */
const canonicalPaths = new Map<string, string>();

function computeCanonicalPath(path: string): string {
  const segments: string[] = [];
  for (const s of path.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") segments.pop();
    else segments.push(s);
  }
  const normalised = `${path.startsWith("/") ? "/" : ""}${segments.join("/")}${segments.length && path.endsWith("/") ? "/" : ""}`;
  return escapeUri(normalised).replace(/%2F/g, "/");
}

const hmac = (key: string | Uint8Array, data: string): Buffer => new Bun.CryptoHasher("sha256", key).update(data).digest();
const sha256Hex = (data: string | Uint8Array): string => Bun.CryptoHasher.hash("sha256", data, "hex");

/**
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request"): four HMACs that only
 * change once a day, kept per credentials object (a refreshed key pair is a new object, and the old entry goes with it).
 */
const signingKeys = new WeakMap<AwsCredentials, Map<string, Buffer>>();

/** The key of the last call: nearly every call signs with the same credentials, day, region and service. */
let last: { creds: AwsCredentials; day: string; region: string; service: string; key: Buffer } | undefined;

export function signingKey(creds: AwsCredentials, day: string, region: string, service: string): Buffer {
  const l = last;
  if (l && l.creds === creds && l.day === day && l.region === region && l.service === service) return l.key;
  const key = cachedKey(creds, day, region, service);
  last = { creds, day, region, service, key };
  return key;
}

function cachedKey(creds: AwsCredentials, day: string, region: string, service: string): Buffer {
  let keys = signingKeys.get(creds);
  if (!keys) signingKeys.set(creds, (keys = new Map()));
  const scope = `${day}/${region}/${service}`;
  let key = keys.get(scope);
  if (!key) {
    if (keys.size >= 8) keys.clear(); // yesterday's keys, or a signer used for many regions: start over
    key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), service), "aws4_request");
    keys.set(scope, key);
  }
  return key;
}

/** A handful of header names, kept in code-unit order (as Array.prototype.sort would) as they are added. */
function insertSorted(names: string[], name: string): void {
  let i = names.length;
  names.push(name);
  while (i > 0 && names[i - 1]! > name) {
    names[i] = names[i - 1]!;
    i--;
  }
  names[i] = name;
}

/** Canonical header value: line breaks to spaces, runs of spaces and tabs to one, the ends trimmed. */
const canonicalValue = (v: string) =>
  /[\r\n\t]| {2}|^ | $/.test(v) ? v.replace(/[\r\n]/g, " ").replace(/[ \t]+/g, " ").replace(/^ | $/g, "") : v;

/**
 * The headers to send: the request's own, plus x-amz-date, x-amz-security-token (temporary credentials),
 * x-amz-content-sha256 and authorization. `host` is signed but not returned: fetch sends it from the URL.
 */
export function sign(req: SignableRequest, creds: AwsCredentials, region: string, service: string, date: Date): Record<string, string> {
  const { long, short } = amzDate(date);
  const payloadHash = req.headers["x-amz-content-sha256"] ?? sha256Hex(req.body);
  const out: Record<string, string> = {};
  for (const name in req.headers) if (name !== "host") out[name] = req.headers[name]!;
  out["x-amz-date"] = long;
  if (creds.sessionToken) out["x-amz-security-token"] = creds.sessionToken;
  out["x-amz-content-sha256"] = payloadHash;

  const names: string[] = ["host"];
  for (const name in out) if (name !== "host" && signable(name)) insertSorted(names, name);
  let headerLines = "";
  for (const name of names) headerLines += `${name}:${canonicalValue(name === "host" ? req.host : out[name]!)}\n`;
  const signedHeaders = names.join(";");

  const canonicalRequest = `${req.method}\n${canonicalPath(req.path)}\n\n${headerLines}\n${signedHeaders}\n${payloadHash}`;
  const scope = `${short}/${region}/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${long}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const signature = new Bun.CryptoHasher("sha256", signingKey(creds, short, region, service)).update(stringToSign).digest("hex");
  out.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return out;
}
