// The AWS SDK as the source of truth for where and as whom Bedrock is called: one BedrockRuntimeClient per provider,
// built on first use, whose resolved config gives the region, the endpoint (the SDK's rule set: FIPS, dual-stack,
// partitions, overrides) and the credentials (static keys, or the default chain: env, profile/SSO, web identity, ECS,
// IMDS). The client never sends a request; transport.ts does.
import type { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import type { AwsCredentials } from "./sigv4.ts";

/**
 * The AWS SDK, loaded on first use: it costs ~25 MB of memory and startup time that configs without Bedrock (and a
 * Bedrock provider that is never called) should not pay.
 */
export type BedrockSdk = typeof import("./sdk.ts");
let sdk: Promise<BedrockSdk> | undefined;
export const loadBedrockSdk = (): Promise<BedrockSdk> => (sdk ??= import("./sdk.ts"));

export interface BedrockClientOptions {
  region: string;
  profile?: string;
  endpoint?: string;
  access_key_id?: string;
  secret_access_key?: string;
  session_token?: string;
}

export function createBedrockClient({ BedrockRuntimeClient }: BedrockSdk, o: BedrockClientOptions): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: o.region,
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    // Static keys when configured; otherwise the AWS default chain (env, profile/SSO, web identity, ECS, IMDS).
    ...(o.access_key_id && o.secret_access_key
      ? { credentials: { accessKeyId: o.access_key_id, secretAccessKey: o.secret_access_key, ...(o.session_token ? { sessionToken: o.session_token } : {}) } }
      : {}),
  });
}

/** What the transport needs from the SDK, resolved once per provider. */
export interface ResolvedTarget {
  /** Endpoint origin plus any base path, without a trailing slash: `https://bedrock-runtime.us-east-1.amazonaws.com`. */
  baseUrl: string;
  /** `https://host[:port]`, to which basePath + the operation path are appended. */
  origin: string;
  /** The Host header fetch will send for baseUrl (port only when not the scheme's default). */
  host: string;
  /** The path prefix of baseUrl ("" for the service's own endpoints). */
  basePath: string;
  signingRegion: string;
  signingName: string;
  /** The SDK's (memoised) credential provider. */
  credentials: () => Promise<AwsCredentials>;
}

interface AuthScheme {
  name?: string;
  signingRegion?: string;
  signingName?: string;
}

/** Origin, host and base path of an endpoint URL, as resolveTarget reports them. */
function endpointParts(endpoint: string) {
  const url = new URL(endpoint);
  const basePath = url.pathname.replace(/\/+$/, "");
  return { baseUrl: `${url.origin}${basePath}`, origin: url.origin, host: url.host, basePath };
}

/**
 * The target without the SDK, when the config leaves it nothing to resolve: static keys (no credential chain) and an
 * explicit endpoint (which the SDK's rules return as given, with no auth-scheme overrides: signing region = the
 * configured region, name "bedrock"; test/unit/bedrock-transport.test.ts compares the two). Loading the SDK for that
 * costs ~18 MB of memory. Anything else (no endpoint: partitions, FIPS and dual-stack from env or ~/.aws/config;
 * no keys: the default chain) goes through resolveTarget.
 */
export function staticTarget(o: BedrockClientOptions): ResolvedTarget | undefined {
  if (!o.endpoint || !o.access_key_id || !o.secret_access_key) return undefined;
  const creds: AwsCredentials = { accessKeyId: o.access_key_id, secretAccessKey: o.secret_access_key, ...(o.session_token ? { sessionToken: o.session_token } : {}) };
  return { ...endpointParts(o.endpoint), signingRegion: o.region, signingName: "bedrock", credentials: () => Promise.resolve(creds) };
}

export async function resolveTarget(client: BedrockRuntimeClient, o: BedrockClientOptions): Promise<ResolvedTarget> {
  const c = client.config;
  const region = await c.region();
  const endpoint = c.endpointProvider({
    Region: region,
    UseFIPS: await c.useFipsEndpoint(),
    UseDualStack: await c.useDualstackEndpoint(),
    ...(o.endpoint ? { Endpoint: o.endpoint } : {}),
  });
  const schemes = (endpoint.properties?.authSchemes ?? []) as AuthScheme[];
  const sigv4 = schemes.find((s) => s.name === "sigv4");
  return {
    ...endpointParts(endpoint.url.toString()),
    signingRegion: sigv4?.signingRegion ?? region,
    signingName: sigv4?.signingName ?? "bedrock",
    credentials: () => c.credentials() as Promise<AwsCredentials>,
  };
}
