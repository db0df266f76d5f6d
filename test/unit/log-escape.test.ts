// Text log lines escape control characters, so no value (a client's model name, an upstream's error message) can end
// a line and write one of its own; JSON lines stay one line too, for readers that split on more than "\n".
import { describe, expect, test } from "bun:test";
import type { AccessRecord } from "../../src/observability/access.ts";
import { escapeControls } from "../../src/observability/escape.ts";
import { createLogger } from "../../src/observability/log.ts";
import { createRequestObserver } from "../../src/observability/observer.ts";

const FORGED = "gpt-4o\n2026-01-01T00:00:00.000Z FATAL database wiped";
const EVERY = "a\nb\rc\td\u0000e\u001bf\u007fg\u0085h\u009bi\u2028j\u2029k";

function logger(json: boolean) {
  const written: string[] = [];
  const log = createLogger({ level: "info", json, write: (l) => written.push(l) });
  return { log, written };
}

const rec = (over: Partial<AccessRecord>): AccessRecord => ({
  requestId: "r1",
  method: "POST",
  route: "/v1/chat/completions",
  status: 400,
  attempts: 0,
  retries: 0,
  failovers: 0,
  stream: false,
  durationMs: 1,
  ...over,
});

/** Any character a terminal or a line splitter (Python's splitlines among them) treats as a break or a control. */
const BREAKS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

describe("text log lines", () => {
  test("a model name with a newline stays on the access line, written as \\n", () => {
    const { log, written } = logger(false);
    createRequestObserver(log).end(rec({ model: FORGED, error: "bad_request", errorMessage: "no such model\r\nFATAL x" }));
    expect(written.length).toBe(1);
    const line = written[0]!;
    expect(line.endsWith("\n")).toBe(true);
    expect(BREAKS.test(line.slice(0, -1))).toBe(false);
    expect(line).toContain("model=gpt-4o\\n2026-01-01T00:00:00.000Z FATAL database wiped ");
    expect(line).toContain("errorMessage=no such model\\r\\nFATAL x");
  });

  test("every C0 and C1 control, DEL and U+2028/2029 is escaped, in the message and in string, object and array fields", () => {
    const { log, written } = logger(false);
    log.info(`msg ${EVERY}`, { s: EVERY, o: { nested: EVERY }, a: [EVERY] });
    const line = written[0]!.slice(0, -1);
    expect(BREAKS.test(line)).toBe(false);
    const escaped = "a\\nb\\rc\\td\\u0000e\\u001bf\\u007fg\\u0085h\\u009bi\\u2028j\\u2029k";
    expect(line).toContain(`INFO  msg ${escaped} s=${escaped} `);
    // Objects are JSON, where C0 controls were escaped by JSON.stringify already; the rest are escaped the same way.
    expect(line).toContain(`o={"nested":"${escaped}"}`);
    expect(line).toContain(`a=["${escaped}"]`);
  });

  test("secrets are still redacted when a control character sits next to them", () => {
    const { log, written } = logger(false);
    log.addSecrets(["sk-provider-secret-123"]);
    log.info("upstream said", { errorMessage: "bad key\nsk-provider-secret-123\tend" });
    expect(written[0]).toContain("errorMessage=bad key\\n[REDACTED]\\tend");
  });

  test("plain text is returned as it is (the same string: nothing to replace)", () => {
    const s = "request requestId=r1 model=gpt-4o status=200 é ü 日本";
    expect(escapeControls(s)).toBe(s);
  });
});

describe("JSON log lines", () => {
  test("are one line that parses back to the exact values, with no raw break or control character", () => {
    const { log, written } = logger(true);
    log.info(`msg ${EVERY}`, { model: FORGED, s: EVERY, o: { nested: [EVERY] } });
    const line = written[0]!.slice(0, -1);
    expect(BREAKS.test(line)).toBe(false);
    const back = JSON.parse(line);
    expect(back.msg).toBe(`msg ${EVERY}`);
    expect(back.model).toBe(FORGED);
    expect(back.s).toBe(EVERY);
    expect(back.o).toEqual({ nested: [EVERY] });
  });
});
