import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CpuProfile, summarise } from "../../bench/profile-summary.ts";

const frame = (functionName: string, url = "", lineNumber = 0, columnNumber = 0) => ({
  functionName,
  url,
  lineNumber,
  columnNumber,
});

/**
 * (root) → handler (project file) → parse (graphql) → parse again (recursion)
 *                                 → (garbage collector)
 * (root) → (idle)
 */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 6] },
    { id: 2, callFrame: frame("handler", "file:///srv/app/gateway/x.ts", 0, 40), children: [3, 5] },
    { id: 3, callFrame: frame("parse", "file:///srv/app/node_modules/graphql/language/parser.js", 99), children: [4] },
    { id: 4, callFrame: frame("parse", "file:///srv/app/node_modules/graphql/language/parser.js", 99) },
    { id: 5, callFrame: frame("(garbage collector)") },
    { id: 6, callFrame: frame("(idle)") },
  ],
  startTime: 0,
  endTime: 10_000,
  // One sample per millisecond.
  samples: [4, 4, 3, 2, 5, 6, 6, 4, 2, 6],
  timeDeltas: Array(10).fill(1000),
};

describe("profile summary", () => {
  test("self and inclusive time per function, recursion counted once, idle left out", () => {
    const summary = summarise(profile);
    assert.equal(summary.busySamples, 7);
    assert.equal(summary.idleSamples, 3);
    assert.equal(summary.busyMs, 7);
    const parse = summary.functions.find((e) => e.name.startsWith("parse graphql/language/parser.js:100"));
    assert.deepEqual(parse && { self: parse.self, inclusive: parse.inclusive }, { self: 4, inclusive: 4 });
    const handler = summary.functions.find((e) => e.name.startsWith("handler "));
    assert.equal(handler?.self, 2);
    assert.equal(handler?.inclusive, 7);
    assert.equal(summary.functions.find((e) => e.name === "(garbage collector)")?.self, 1);
  });

  test("packages by name, the project's files by path", () => {
    const modules = new Map(summarise(profile).modules.map((e) => [e.name, e]));
    assert.equal(modules.get("graphql")?.self, 4);
    assert.equal(modules.get("graphql")?.inclusive, 4);
    assert.ok([...modules.keys()].some((name) => name.endsWith("gateway/x.ts")));
  });

  test("only samples inside the windows count, narrowed at both ends", () => {
    // Samples fall at 1 … 10 ms; the window 0–10.2 ms narrowed by 100 ms on each side keeps nothing.
    assert.equal(summarise(profile, { windows: [{ op: "x", startMs: 0, endMs: 10.2 }] }).busySamples, 0);
    // A window from -100 to 103.5 ms keeps samples at 1, 2 and 3 ms.
    const summary = summarise(profile, { windows: [{ op: "x", startMs: -100, endMs: 103.5 }] });
    assert.equal(summary.busySamples, 3);
    assert.equal(summary.functions.find((e) => e.name.startsWith("parse "))?.self, 3);
  });
});
