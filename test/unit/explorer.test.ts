import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Fastify from "fastify";
import { ConfigError, loadConfig } from "../../gateway/config.ts";
import { explorer, gatewayStatus, prefersHtml, TrafficWindow } from "../../gateway/explorer/index.ts";
import { newRecord, type RequestRecord } from "../../gateway/observability/record.ts";
import { testKeys } from "../helpers/identity.ts";

function record(operationName: string | null, options: Partial<RequestRecord> = {}): RequestRecord {
  return { ...newRecord("r", null, null), graphql: true, operationName, ...options };
}

describe("prefersHtml", () => {
  test("a browser's navigation prefers HTML; API clients and curl do not", () => {
    assert.equal(prefersHtml("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), true);
    assert.equal(prefersHtml("text/html"), true);
    assert.equal(prefersHtml("application/json"), false);
    assert.equal(prefersHtml("*/*"), false);
    assert.equal(prefersHtml(undefined), false);
    assert.equal(prefersHtml("text/html, application/json"), false, "a tie goes to JSON");
    assert.equal(prefersHtml("application/graphql-response+json, text/html;q=0.5"), false);
    assert.equal(prefersHtml("text/html;q=0"), false);
  });
});

describe("TrafficWindow", () => {
  test("counts requests and errors per operation and subgraph, and forgets what left the window", () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const window = new TrafficWindow({ windowSeconds: 60, bucketSeconds: 10, now: () => now });
    window.record("/graphql", 200, record("Catalogue", { subgraphCalls: [call("products", 200, 0)] }));
    window.record("/graphql", 200, record("Catalogue", { subgraphCalls: [call("products", 503, 1)] }));
    window.record("/graphql", 401, record(null, { graphql: false, errorCodes: ["UNAUTHENTICATED"] }));
    now += 30_000;
    window.record("/api/orders/:id", 200, record("Order", { errorCodes: ["FORBIDDEN"] }));
    let snapshot = window.snapshot();
    assert.deepEqual(snapshot.total, { requests: 4, errors: 2 });
    assert.deepEqual(
      snapshot.operations.map((o) => [o.operation, o.route, o.requests, o.errors, o.codes]),
      [
        ["Catalogue", "/graphql", 2, 0, {}],
        ["unknown", "/graphql", 1, 1, { UNAUTHENTICATED: 1 }],
        ["Order", "/api/orders/:id", 1, 1, { FORBIDDEN: 1 }],
      ],
    );
    assert.deepEqual(snapshot.subgraphs, [{ subgraph: "products", requests: 2, errors: 1 }]);
    assert.equal(snapshot.timeline.length, 6);
    // A minute later only the later request is still in the window.
    now += 40_000;
    snapshot = window.snapshot();
    assert.deepEqual(snapshot.total, { requests: 1, errors: 1 });
    assert.deepEqual(
      snapshot.operations.map((o) => o.operation),
      ["Order"],
    );
    now += 60_000;
    assert.deepEqual(window.snapshot().total, { requests: 0, errors: 0 });
  });

  test("keeps a bounded number of operation names", () => {
    const window = new TrafficWindow({ maxKeys: 2 });
    for (const name of ["A", "B", "C", "D"]) window.record("/graphql", 200, record(name));
    assert.deepEqual(
      window.snapshot().operations.map((o) => [o.operation, o.requests]),
      [
        ["other", 2],
        ["A", 1],
        ["B", 1],
      ],
    );
  });
});

function call(subgraph: string, status: number | null, errors: number) {
  return { subgraph, url: `http://${subgraph}`, durationMs: 1, status, errors };
}

describe("explorer plugin without its bundle", () => {
  const dir = mkdtempSync(join(tmpdir(), "explorer-bundle-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a browser's GET /graphql gets a clear JSON 404, and the server keeps serving", async () => {
    const app = Fastify();
    const status = gatewayStatus({ supergraph: () => null, supergraphSdl: () => "", traffic: new TrafficWindow() });
    await app.register(explorer({ status, bundleDir: dir }));
    app.get("/graphql", async () => ({ data: {} }));
    try {
      const page = await app.inject({ url: "/graphql", headers: { accept: "text/html" } });
      assert.equal(page.statusCode, 404);
      const body = page.json() as { errors: { message: string; extensions: { code: string } }[] };
      assert.equal(body.errors[0]!.extensions.code, "NOT_FOUND");
      assert.match(body.errors[0]!.message, /npm run build:explorer/);
      const asset = await app.inject({ url: "/explorer/graphiql.js" });
      assert.equal(asset.statusCode, 404);
      assert.equal((asset.json() as { error: { code: string } }).error.code, "NOT_FOUND");
      const api = await app.inject({ url: "/graphql", headers: { accept: "application/json" } });
      assert.equal(api.statusCode, 200);
      const data = await app.inject({ url: "/status.json" });
      assert.equal(data.statusCode, 200);
      assert.deepEqual((data.json() as { supergraph: unknown; subgraphs: unknown[] }).subgraphs, []);
    } finally {
      await app.close();
    }
  });

  test("asset names cannot leave the bundle", async () => {
    const app = Fastify();
    const status = gatewayStatus({ supergraph: () => null, supergraphSdl: () => "", traffic: new TrafficWindow() });
    await app.register(explorer({ status }));
    try {
      for (const url of ["/explorer/..%2Fpaths.ts", "/explorer/%2E%2E%2F%2E%2E%2Fpackage.json", "/explorer/.hidden"]) {
        const res = await app.inject({ url });
        assert.equal(res.statusCode, 404, url);
      }
    } finally {
      await app.close();
    }
  });
});

describe("EXPLORER", () => {
  test("on outside production unless turned off, never in production", () => {
    assert.equal(loadConfig({}).explorer, true);
    assert.equal(loadConfig({ EXPLORER: "false" }).explorer, false);
    assert.equal(loadConfig({ NODE_ENV: "production", ...testKeys.gatewayEnv }).explorer, false);
    assert.equal(loadConfig({ NODE_ENV: "production", ...testKeys.gatewayEnv, EXPLORER: "true" }).explorer, false);
    assert.throws(
      () => loadConfig({ EXPLORER: "sometimes" }),
      (error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /EXPLORER/);
        return true;
      },
    );
  });
});
