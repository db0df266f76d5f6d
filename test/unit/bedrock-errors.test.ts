// Bedrock exceptions → AlloyError: status, kind (and so retryability) per translation.md; messages kept.
import { describe, expect, test } from "bun:test";
import { bedrockException, exceptionName, fromSdkError } from "../../src/providers/bedrock/errors.ts";

describe("Bedrock error mapping", () => {
  test("each modelled exception gets its status and retryability", () => {
    const table: Array<[string, number, boolean]> = [
      ["ValidationException", 400, false],
      ["AccessDeniedException", 403, false],
      ["ResourceNotFoundException", 404, false],
      ["ModelTimeoutException", 408, true],
      ["ThrottlingException", 429, true],
      ["ModelNotReadyException", 429, true],
      ["ServiceQuotaExceededException", 429, true],
      ["ModelErrorException", 424, false],
      ["InternalServerException", 502, true],
      ["ServiceUnavailableException", 503, true],
    ];
    for (const [name, status, retryable] of table) {
      const e = bedrockException("bedrock", name, `msg for ${name}`);
      expect([name, e.status, e.retryable, e.message, e.upstreamType]).toEqual([name, status, retryable, `msg for ${name}`, name]);
    }
  });

  test("names from headers and stream frames are normalised", () => {
    expect(exceptionName("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/")).toBe("ThrottlingException");
    expect(exceptionName("throttlingException")).toBe("ThrottlingException");
  });

  test("SDK errors: modelled exceptions by name, unknown ones by HTTP status, sockets as network", () => {
    const sdk = (name: string, status: number, message: string) => Object.assign(new Error(message), { name, $fault: "client", $metadata: { httpStatusCode: status } });
    expect(fromSdkError("bedrock", sdk("ThrottlingException", 429, "Rate exceeded")).kind).toBe("rate_limit");
    const unknown403 = fromSdkError("bedrock", sdk("UnrecognizedClientException", 403, "The security token included in the request is invalid."));
    expect([unknown403.status, unknown403.retryable]).toEqual([403, false]);
    const unknown500 = fromSdkError("bedrock", sdk("SomethingNew", 500, "x"));
    expect([unknown500.status, unknown500.retryable]).toEqual([502, true]);
    const net = fromSdkError("bedrock", new TypeError("ECONNREFUSED: Unable to connect"));
    expect([net.kind, net.status, net.retryable]).toEqual(["network", 502, true]);
    const creds = fromSdkError("bedrock", Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }));
    expect([creds.kind, creds.retryable]).toEqual(["server", true]);
    expect(creds.message).toContain("could not load AWS credentials");
  });

  test("answers the SDK cannot parse: a proxy's HTML error keeps its status; an unreadable 200 is a retryable server error", () => {
    const hint = "\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.";
    const html502 = fromSdkError("bedrock", Object.assign(new SyntaxError(`JSON Parse error: Unrecognized token '<'${hint}`), { $fault: "server", $metadata: { httpStatusCode: 502 } }));
    expect([html502.status, html502.retryable, html502.message]).toEqual([502, true, "bedrock returned HTTP 502"]);
    const cut = fromSdkError("bedrock", Object.assign(new Error(`Truncated event message received.${hint}`), { $metadata: { httpStatusCode: 200 } }));
    expect([cut.kind, cut.retryable, cut.message]).toEqual(["server", true, "bedrock sent a response that could not be read: Truncated event message received."]);
  });
});
