import { describe, expect, test } from "bun:test";
import { exceedsDepth } from "../../src/http/body.ts";

const enc = new TextEncoder();
const deeper = (s: string, max: number) => exceedsDepth(enc.encode(s), max);

/** The plain byte-by-byte reading of the rule, to check the indexOf-jumping version against. */
function reference(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > max) return true;
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return false;
}

describe("exceedsDepth", () => {
  test("counts nesting of objects and arrays against the limit", () => {
    expect(deeper("[".repeat(64) + "]".repeat(64), 64)).toBe(false);
    expect(deeper("[".repeat(65) + "]".repeat(65), 64)).toBe(true);
    expect(deeper('{"a":{"b":[{"c":1}]}}', 3)).toBe(true);
    expect(deeper('{"a":{"b":[{"c":1}]}}', 4)).toBe(false);
  });

  test("brackets inside strings do not count, escaped quotes do not end a string", () => {
    expect(deeper(JSON.stringify({ s: "[[[[[[[[{{{{{{{" }), 1)).toBe(false);
    expect(deeper(JSON.stringify({ s: 'say "[[[[" \\ [[[[' }), 1)).toBe(false);
    expect(deeper('{"s":"\\\\"}', 1)).toBe(false); // an escaped backslash, then the real closing quote
    expect(deeper('{"s":"\\\\","t":[[1]]}', 2)).toBe(true);
    expect(deeper(JSON.stringify({ s: "ünïcødé 🙂 [[[" }), 1)).toBe(false);
  });

  test("agrees with the byte-by-byte rule on 20,000 random strings of quotes, backslashes and brackets", () => {
    const differs: string[] = [];
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let t = 0; t < 20_000; t++) {
      let s = "";
      const len = Math.floor(rand() * 30);
      for (let i = 0; i < len; i++) s += '"\\[]{}a'[Math.floor(rand() * 7)];
      const bytes = enc.encode(s);
      for (const max of [0, 1, 2, 3]) if (exceedsDepth(bytes, max) !== reference(bytes, max)) differs.push(`${JSON.stringify(s)} @${max}`);
    }
    expect(differs).toEqual([]);
  });
});
