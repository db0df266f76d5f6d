// Claude's Messages body for Bedrock's InvokeModel and CountTokens, and which model ids take it.
import { describe, expect, test } from "bun:test";
import { betaFlags, countModelId, countTokensRequest, isClaudeModel, toCountBody, toInvokeBody } from "../../src/providers/bedrock/messages.ts";

describe("Claude on Bedrock", () => {
  test("Claude ids, inference profiles and ARNs naming them are Claude; other models and opaque ARNs are not", () => {
    for (const id of ["anthropic.claude-3-haiku-20240307-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "global.anthropic.claude-opus-4-5-20251101-v1:0", "arn:aws:bedrock:us-east-1:123:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"])
      expect(isClaudeModel(id)).toBe(true);
    for (const id of ["amazon.nova-lite-v1:0", "meta.llama3-70b-instruct-v1:0", "arn:aws:bedrock:us-east-1:123:application-inference-profile/abc123"]) expect(isClaudeModel(id)).toBe(false);
  });

  test("the body: model and stream gone, anthropic_version set, betas a trimmed list (none: no key); the rest as sent", () => {
    expect(toInvokeBody({ model: "x", stream: true, max_tokens: 5, messages: [], metadata: { user_id: "u" } }, " a-1 , b-2,")).toEqual({
      anthropic_version: "bedrock-2023-05-31",
      anthropic_beta: ["a-1", "b-2"],
      max_tokens: 5,
      messages: [],
      metadata: { user_id: "u" },
    });
    expect(toInvokeBody({ model: "x", max_tokens: 5, messages: [] }, undefined)).toEqual({ anthropic_version: "bedrock-2023-05-31", max_tokens: 5, messages: [] });
    expect(betaFlags("")).toEqual([]);
  });

  test("CountTokens: max_tokens added above a thinking budget, the body base64 in input.invokeModel, foundation-model ids", () => {
    expect(toCountBody({ model: "x", messages: [] }, undefined).max_tokens).toBe(1);
    expect(toCountBody({ model: "x", messages: [], thinking: { type: "enabled", budget_tokens: 2000 } }, undefined).max_tokens).toBe(2001);
    const wire = JSON.parse(countTokensRequest({ a: 1 }));
    expect(JSON.parse(Buffer.from(wire.input.invokeModel.body, "base64").toString())).toEqual({ a: 1 });
    expect(countModelId("us.anthropic.claude-sonnet-4-5-20250929-v1:0")).toBe("anthropic.claude-sonnet-4-5-20250929-v1:0");
    expect(countModelId("us-gov.anthropic.claude-3-haiku-20240307-v1:0")).toBe("anthropic.claude-3-haiku-20240307-v1:0");
    expect(countModelId("arn:aws:bedrock:us-east-1:123:inference-profile/global.anthropic.claude-opus-4-5-v1:0")).toBe("anthropic.claude-opus-4-5-v1:0");
    expect(countModelId("anthropic.claude-3-haiku-20240307-v1:0")).toBe("anthropic.claude-3-haiku-20240307-v1:0");
  });
});
