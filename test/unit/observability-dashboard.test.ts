import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { silent } from "../helpers/services.ts";

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  gridPos: { h: number; w: number; x: number; y: number };
}

const dashboard = JSON.parse(readFileSync(new URL("../../dashboards/gateway.json", import.meta.url), "utf8")) as {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query: string }[] };
};

const PROMQL_WORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "le",
]);

/** The metric names an expression reads (label matchers, groupings, ranges and functions removed). */
function metricNamesOf(expr: string): string[] {
  const stripped = expr
    .replace(/"[^"]*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, "")
    .replace(/(^|[^A-Za-z0-9_:])\d+(\.\d+)?(e[+-]?\d+)?/gi, "$1");
  const names: string[] = [];
  for (const match of stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (match[2] || PROMQL_WORDS.has(match[1]!)) continue;
    names.push(match[1]!);
  }
  return names;
}

let gateway: Gateway;
let exposed: Set<string>;

before(async () => {
  // The real gateway over the repository's supergraph, in memory (nothing listens or is called).
  const config = loadConfig({ SUPERGRAPH_PATH: "schema/supergraph.graphql", PORT: "0", LOG_LEVEL: "silent" });
  gateway = await createGateway(config, { logger: silent });
  const text = (await gateway.app.inject({ method: "GET", url: "/metrics" })).body;
  exposed = new Set();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exposed.add(name!);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exposed.add(name + suffix);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) exposed.add(name + suffix);
  }
});
after(() => gateway?.close());

test("the dashboard parses and its panels have queries and a place on the grid", () => {
  assert.equal(dashboard.uid, "shop-gateway");
  const graphs = dashboard.panels.filter((p) => p.type !== "row");
  assert.ok(graphs.length >= 10);
  for (const panel of graphs) {
    assert.ok(panel.targets && panel.targets.length > 0, `${panel.title} has queries`);
    assert.ok(panel.gridPos.w > 0 && panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title} fits the grid`);
  }
});

test("every metric the dashboard queries is one that /metrics exposes", () => {
  const expressions = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.map((v) => v.query.replace(/^label_values\(([^,]+),.*$/, "$1")),
  ];
  const used = new Set(expressions.flatMap(metricNamesOf).filter((n) => n !== "prometheus"));
  assert.ok(used.size >= 12, `metrics used: ${[...used].join(", ")}`);
  const missing = [...used].filter((name) => !exposed.has(name));
  assert.deepEqual(missing, [], "metrics the dashboard uses but /metrics does not expose");
});

test("it covers traffic, latency percentiles, errors by code, subgraph health and rate-limit refusals", () => {
  const all = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join("\n");
  assert.match(all, /gateway_operations_total/);
  assert.match(all, /histogram_quantile\(0\.99, .*gateway_operation_duration_seconds_bucket/);
  assert.match(all, /sum by \(code\) \(rate\(gateway_errors_total/);
  assert.match(all, /gateway_subgraph_errors_total/);
  assert.match(all, /gateway_rate_limited_total/);
});

test("the expression parser finds metric names and nothing else", () => {
  assert.deepEqual(
    metricNamesOf('histogram_quantile(0.95, sum by (le, op) (rate(a_b_bucket{job=~"$job",x="y"}[$__rate_interval])))'),
    ["a_b_bucket"],
  );
  assert.deepEqual(metricNamesOf("sum(rate(x_total[5m])) / clamp_min(sum(rate(y_total[5m])), 1e-9)"), [
    "x_total",
    "y_total",
  ]);
});
