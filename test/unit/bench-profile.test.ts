// The profile summaries bench/profile.ts prints: self time goes to the sampled frame, inclusive time to every Alloy
// function on its stack (once per sample, even when it recurses).
import { expect, test } from "bun:test";
import { inclusiveTimes, selfTimes } from "../../bench/profile.ts";

const ROOT = "/repo";
const frame = (functionName: string, url = "", lineNumber = 0) => ({ functionName, url, lineNumber });
const profile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2] },
    { id: 2, callFrame: frame("handle", "file:///repo/src/http/ingress.ts", 84), children: [3, 4] },
    { id: 3, callFrame: frame("fetch"), children: [] },
    // handle calling itself: counted once per sample in its inclusive time
    { id: 4, callFrame: frame("handle", "file:///repo/src/http/ingress.ts", 84), children: [5] },
    { id: 5, callFrame: frame("parse"), children: [] },
  ],
  samples: [3, 3, 2, 5],
  timeDeltas: [1000, 2000, 3000, 4000],
};

test("self time is the sampled frame's, summed per function, with its share", () => {
  const self = selfTimes(profile, ROOT);
  expect(self.map((t) => [t.fn, t.where, t.ms])).toEqual([
    ["parse", "(native)", 4],
    ["fetch", "(native)", 3],
    ["handle", "src/http/ingress.ts:85", 3],
  ]);
  expect(self[0]!.share).toBeCloseTo(0.4);
});

test("inclusive time covers each src/ function's callees, a recursive one counted once per sample", () => {
  expect(inclusiveTimes(profile, ROOT).map((t) => [t.fn, t.ms, t.share])).toEqual([["handle", 10, 1]]);
});
