// The AWS SDK values the Bedrock provider uses, in one module so that it can be imported lazily (see client.ts).
export { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
export { FetchHttpHandler } from "@smithy/fetch-http-handler";
