// The AWS SDK values the Bedrock provider uses, in one module so that it can be imported lazily (see client.ts). Only
// the client's resolved configuration is used (region, endpoint rules, the credential chain): requests go out through
// transport.ts, never through the SDK's middleware stack.
export { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
