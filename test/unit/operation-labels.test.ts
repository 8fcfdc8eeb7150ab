import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { forgetOperation, OperationLabels } from "../../gateway/observability/metrics.ts";

const MINUTE = 60_000;

/** Labels on a clock the test moves. */
function labelsAt(options: ConstructorParameters<typeof OperationLabels>[0] = {}) {
  let now = 0;
  const retired: string[] = [];
  const labels = new OperationLabels({ now: () => now, onRetire: (name) => retired.push(name), ...options });
  return {
    labels,
    retired,
    at(ms: number) {
      now = ms;
    },
  };
}

test("120 one-off junk names then a real operation used steadily: the real one earns its label, the junk stays other", () => {
  const { labels, at } = labelsAt({ max: 100 });
  for (let i = 0; i < 120; i++) assert.equal(labels.of(`Junk${i}`), "other");
  const seen: string[] = [];
  // The real operation every 10 s for three minutes.
  for (let t = 0; t < 3 * MINUTE; t += 10_000) {
    at(t);
    seen.push(labels.of("ListProducts"));
  }
  assert.equal(seen[0], "other", "a name is not labelled at first sight");
  assert.equal(seen.at(-1), "ListProducts", "three minutes of use earn the label");
  assert.equal(seen.indexOf("ListProducts"), 12, "earned in its third consecutive minute");
  for (let i = 0; i < 120; i++) assert.equal(labels.of(`Junk${i}`), "other", `Junk${i}`);
});

test("junk repeated in bursts without steady use earns nothing; a candidate that misses a minute starts over", () => {
  const { labels, at } = labelsAt();
  for (const minute of [0, 2, 4, 6]) {
    at(minute * MINUTE);
    for (let n = 0; n < 50; n++) assert.equal(labels.of("Burst"), "other");
  }
});

test("earned labels are bounded, never evicted by other traffic, and given back after long disuse", () => {
  const { labels, at, retired } = labelsAt({ max: 2, earnWindows: 2, retireWindows: 10 });
  for (const minute of [0, 1]) {
    at(minute * MINUTE);
    labels.of("A");
    labels.of("B");
    labels.of("C");
  }
  assert.equal(labels.of("A"), "A");
  assert.equal(labels.of("B"), "B");
  assert.equal(labels.of("C"), "other", "no third slot");
  // A keeps being used; B falls silent.
  for (let minute = 2; minute <= 11; minute++) {
    at(minute * MINUTE);
    assert.equal(labels.of("A"), "A");
    for (let i = 0; i < 200; i++) labels.of(`Flood${minute}x${i}`);
  }
  assert.deepEqual(retired, ["B"], "B retired after ten minutes unused; the flood evicted nothing");
  at(12 * MINUTE);
  assert.equal(labels.of("C"), "other", "C starts earning again");
  at(13 * MINUTE);
  assert.equal(labels.of("C"), "C", "and takes B's slot");
});

test("names of trusted documents always have their label, outside the cap", () => {
  const { labels } = labelsAt({ max: 0, pinned: ["Checkout"] });
  assert.equal(labels.of("Checkout"), "Checkout");
  assert.equal(labels.of("Other"), "other");
  assert.equal(labels.of(null), "unknown");
});

test("new names followed while they earn are bounded; the rest wait", () => {
  const { labels, at } = labelsAt({ max: 10, earnWindows: 2, maxCandidates: 5 });
  for (let i = 0; i < 5; i++) labels.of(`First${i}`);
  labels.of("Late");
  at(MINUTE);
  assert.equal(labels.of("First0"), "First0");
  assert.equal(labels.of("Late"), "other", "not followed while the table was full");
  // Candidates that lapse make room again.
  at(3 * MINUTE);
  labels.of("Late");
  at(4 * MINUTE);
  assert.equal(labels.of("Late"), "Late");
});

test("a retired name's series are removed from the operation counter and histogram; others stay", async () => {
  const registers = [new Registry()];
  const labelNames = ["operation", "type"] as const;
  const counter = new Counter({ name: "ops_total", help: "ops", labelNames, registers });
  const histogram = new Histogram({ name: "ops_seconds", help: "ops", labelNames, buckets: [1], registers });
  for (const operation of ["Gone", "Kept"]) {
    counter.inc({ operation, type: "query" });
    histogram.observe({ operation, type: "query" }, 0.5);
  }
  await forgetOperation([counter, histogram], "Gone");
  const text = await registers[0]!.metrics();
  assert.doesNotMatch(text, /Gone/);
  assert.match(text, /ops_total\{operation="Kept",type="query"\} 1/);
  assert.match(text, /ops_seconds_count\{operation="Kept",type="query"\} 1/);
});
