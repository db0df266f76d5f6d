// A client-chosen value (a model name, a header) must not be able to start a line of its own in a text log.
import { expect, test } from "bun:test";
import { createLogger, escapeText } from "../../src/observability/log.ts";

test("control characters in text log values are escaped", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", json: false, write: (l) => lines.push(l) });
  const forged = "gpt-4o\n2026-12-01T00:00:00.000Z FATAL database wiped\r\u2028x\u0007";
  log.info("request", { model: forged, nested: { m: forged } });
  log.info(`message ${forged}`);
  const out = lines.join("");
  expect(out.split("\n").filter(Boolean)).toHaveLength(2);
  expect(out).not.toMatch(/\nFATAL|\n2026-12-01T00:00:00.000Z/);
  expect(out).toContain("gpt-4o\\n2026-12-01T00:00:00.000Z FATAL database wiped\\r\\u2028x\\u0007");
});

test("clean values pass through untouched", () => {
  expect(escapeText("plain text é 中")).toBe("plain text é 中");
});
