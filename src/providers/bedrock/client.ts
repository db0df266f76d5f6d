// One BedrockRuntimeClient per provider, built at startup from the resolved config.
import type { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";

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

export function createBedrockClient({ BedrockRuntimeClient, FetchHttpHandler }: BedrockSdk, o: BedrockClientOptions): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: o.region,
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    // Static keys when configured; otherwise the AWS default chain (env, profile/SSO, web identity, ECS, IMDS).
    ...(o.access_key_id && o.secret_access_key
      ? { credentials: { accessKeyId: o.access_key_id, secretAccessKey: o.secret_access_key, ...(o.session_token ? { sessionToken: o.session_token } : {}) } }
      : {}),
    // Retries, backoff and failover belong to Alloy's governance; the SDK makes exactly one attempt.
    maxAttempts: 1,
    // Under Bun the SDK's default HTTP/2 handler fails against HTTP/1.1 endpoints (ERR_HTTP2_ERROR); Bun's native
    // fetch speaks both and honours the abort signal for the request and the response body alike.
    requestHandler: new FetchHttpHandler(),
    // The middleware stack is never changed after start: resolve it once per command, not on every call.
    cacheMiddleware: true,
  });
}
