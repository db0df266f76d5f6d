import { describe, expect, test } from "bun:test";
import { resultText } from "../../src/mcp/result.ts";

describe("resultText", () => {
  test("text parts are joined by newlines", () => {
    expect(resultText({ content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] })).toBe("a\nb");
  });

  test("errors are marked for the model", () => {
    expect(resultText({ content: [{ type: "text", text: "no such file" }], isError: true })).toBe("Tool error: no such file");
    expect(resultText({ content: [], isError: true })).toBe("Tool error: the tool reported an error without details");
  });

  test("non-text content is described, embedded text resources are inlined", () => {
    const text = resultText({
      content: [
        { type: "image", data: "aGVsbG8=", mimeType: "image/png" },
        { type: "resource", resource: { uri: "file:///a.txt", text: "inside" } },
        { type: "resource", resource: { uri: "file:///b.bin", blob: "AAAA" } },
        { type: "resource_link", uri: "file:///c", name: "c" },
      ],
    });
    expect(text).toBe("[image image/png, 8 base64 chars]\ninside\n[resource file:///b.bin]\n[resource file:///c (c)]");
  });

  test("structured content stands in when there is no content", () => {
    expect(resultText({ content: [], structuredContent: { temp: 21 } })).toBe('{"temp":21}');
  });
});
