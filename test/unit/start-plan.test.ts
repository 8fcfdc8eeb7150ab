import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { SupergraphEntry } from "../../schema/compose.ts";
import { logFormat, prettyLine } from "../../scripts/lib/logs.ts";
import { envName, PlanError, peerUrls, planStack, replicaUrls } from "../../scripts/lib/plan.ts";

const root = mkdtempSync(join(tmpdir(), "plan-"));
after(() => rmSync(root, { recursive: true, force: true }));
for (const name of ["catalog", "gift-cards"]) {
  mkdirSync(join(root, "subgraphs", name), { recursive: true });
  writeFileSync(join(root, "subgraphs", name, "index.ts"), "");
}

const entry = (name: string, routingUrl: string): SupergraphEntry => ({
  name,
  routingUrl,
  schema: { kind: "file", path: "unused" },
});
const entries = [
  entry("catalog", "http://127.0.0.1:4101/graphql"),
  entry("partners", "https://partners.example.com/graphql"),
  entry("gift-cards", "http://127.0.0.1:4102/graphql"),
];
const helper = { name: "stub", entry: "stub.ts", portVar: "STUB_PORT", defaultPort: 4110, readyPath: "/healthz" };

test("a subgraph with a folder runs locally on its routed port; one without is external", () => {
  const plan = planStack(entries, { root, env: {}, host: "127.0.0.1" });
  assert.deepEqual(
    plan.processes.map((p) => [p.name, p.entry, p.port, p.portVar]),
    [
      ["catalog", "subgraphs/catalog/index.ts", 4101, "CATALOG_PORT"],
      ["gift-cards", "subgraphs/gift-cards/index.ts", 4102, "GIFT_CARDS_PORT"],
    ],
  );
  assert.deepEqual(plan.external, [{ name: "partners", url: "https://partners.example.com/graphql" }]);
  assert.equal(plan.defaultPorts, true);
  assert.deepEqual(peerUrls(plan), {
    CATALOG_URL: "http://127.0.0.1:4101/graphql",
    GIFT_CARDS_URL: "http://127.0.0.1:4102/graphql",
    PARTNERS_URL: "https://partners.example.com/graphql",
  });
});

test("<NAME>_PORT moves a subgraph, helpers start just before theirs, clashes and bad ports stop", () => {
  const plan = planStack(entries, {
    root,
    env: { GIFT_CARDS_PORT: "5000" },
    host: "127.0.0.1",
    helpers: { "gift-cards": [helper] },
  });
  assert.deepEqual(
    plan.processes.map((p) => `${p.name}:${p.port}`),
    ["catalog:4101", "stub:4110", "gift-cards:5000"],
  );
  assert.equal(plan.defaultPorts, false);
  assert.equal(plan.processes[1]?.graphqlUrl, null);

  assert.throws(
    () => planStack(entries, { root, env: { CATALOG_PORT: "4102" }, host: "127.0.0.1" }),
    (e) => e instanceof PlanError && /port 4102: set GIFT_CARDS_PORT/.test(e.message),
  );
  assert.throws(() => planStack(entries, { root, env: { CATALOG_PORT: "http" }, host: "h" }), /CATALOG_PORT/);
  assert.equal(envName("gift-cards"), "GIFT_CARDS");
});

test("REPLICAS=N: N instances of each local subgraph, REPLICA_PORT_STEP apart; helpers and external ones once", () => {
  const helpers = { catalog: [helper] };
  const plan = planStack(entries, { root, env: { REPLICAS: "3" }, host: "127.0.0.1", helpers });
  assert.deepEqual(
    plan.processes.map((p) => [p.name, p.ports]),
    [
      ["stub", [4110]],
      ["catalog", [4101, 4201, 4301]],
      ["gift-cards", [4102, 4202, 4302]],
    ],
  );
  assert.equal(plan.defaultPorts, true);
  const peers = peerUrls(plan);
  assert.equal(
    peers.CATALOG_URL,
    "http://127.0.0.1:4101/graphql|http://127.0.0.1:4201/graphql|http://127.0.0.1:4301/graphql",
  );
  assert.equal(peers.PARTNERS_URL, "https://partners.example.com/graphql");
  assert.equal(
    replicaUrls(plan),
    "catalog=http://127.0.0.1:4101/graphql|http://127.0.0.1:4201/graphql|http://127.0.0.1:4301/graphql," +
      "gift-cards=http://127.0.0.1:4102/graphql|http://127.0.0.1:4202/graphql|http://127.0.0.1:4302/graphql",
  );
  // The operator's own list comes last, so its entries win.
  assert.match(replicaUrls(plan, "catalog=http://c:1/graphql")!, /,catalog=http:\/\/c:1\/graphql$/);
  assert.equal(replicaUrls(planStack(entries, { root, env: {}, host: "127.0.0.1" })), null);

  const stepped = planStack(entries, { root, env: { REPLICAS: "2", REPLICA_PORT_STEP: "1000" }, host: "h" });
  assert.deepEqual(stepped.processes[0]!.ports, [4101, 5101]);
  // Step 1 would put catalog's second instance on gift-cards' port.
  assert.throws(
    () => planStack(entries, { root, env: { REPLICAS: "2", REPLICA_PORT_STEP: "1" }, host: "h" }),
    (e) => e instanceof PlanError && /port 4102/.test(e.message),
  );
  for (const bad of [{ REPLICAS: "0" }, { REPLICAS: "two" }, { REPLICAS: "17" }, { REPLICA_PORT_STEP: "0" }]) {
    assert.throws(
      () => planStack(entries, { root, env: bad, host: "h" }),
      (e) => e instanceof PlanError && e.message.startsWith(Object.keys(bad)[0]!),
    );
  }
});

test("logs are pretty on a terminal outside production, JSON otherwise, LOG_FORMAT decides when set", () => {
  assert.equal(logFormat({}, true), "pretty");
  assert.equal(logFormat({}, false), "json");
  assert.equal(logFormat({ NODE_ENV: "production" }, true), "json");
  assert.equal(logFormat({ LOG_FORMAT: "json" }, true), "json");
  assert.equal(logFormat({ LOG_FORMAT: "pretty" }, false), "pretty");
  assert.throws(() => logFormat({ LOG_FORMAT: "fancy" }, true), /LOG_FORMAT/);
});

test("a JSON log line becomes one readable line; other output passes through", () => {
  const pretty = prettyLine(false);
  const line = JSON.stringify({
    level: 30,
    time: Date.UTC(2026, 0, 1, 12, 0, 0),
    pid: 1,
    hostname: "h",
    name: "gateway",
    msg: "request completed",
    statusCode: 200,
  });
  const out = pretty(line);
  assert.match(out, /statusCode/);
  assert.match(out, /INFO \(gateway\): request completed/);
  assert.doesNotMatch(out, /"level"|hostname/);
  assert.equal(pretty("products subgraph ready at http://x"), "products subgraph ready at http://x\n");
  assert.equal(pretty("[1, 2]"), "[1, 2]\n");

  const request = pretty(
    JSON.stringify({
      level: 30,
      time: 0,
      name: "gateway",
      component: "request",
      requestId: "1f2e3d4c-aaaa-bbbb",
      ip: "127.0.0.1",
      method: "POST",
      route: "/graphql",
      status: 200,
      durationMs: 12.3,
      operation: { name: "Catalogue", type: "query" },
      subgraphs: [{ subgraph: "products", url: "http://127.0.0.1:1/graphql", durationMs: 4.1, status: 200 }],
      msg: "request completed",
    }),
  );
  assert.match(
    request,
    /INFO \(gateway\): POST \/graphql 200 12\.3 ms query Catalogue → products 4\.1 ms \[1f2e3d4c\]\n$/,
  );
  assert.equal(request.split("\n").length, 2, "one line");
});
