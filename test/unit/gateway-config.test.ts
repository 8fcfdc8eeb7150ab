import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../gateway/config.ts";

test("defaults are safe for development and frozen", () => {
  const config = loadConfig({});
  assert.equal(config.port, 4000);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.production, false);
  assert.equal(config.introspection, true);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.auth));
});

test("production turns introspection off and requires an internal secret", () => {
  assert.throws(() => loadConfig({ NODE_ENV: "production" }), /INTERNAL_SECRET/);
  const config = loadConfig({ NODE_ENV: "production", INTERNAL_SECRET: "x".repeat(32) });
  assert.equal(config.introspection, false);
  assert.equal(config.host, "0.0.0.0");
});

test("flags win over the environment", () => {
  const config = loadConfig({ PORT: "5000", SUPERGRAPH_PATH: "a.graphql" }, [
    "--port",
    "0",
    "--supergraph",
    "b.graphql",
  ]);
  assert.equal(config.port, 0);
  assert.match(config.supergraphPath, /b\.graphql$/);
});

test("a bad value names its variable", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "abc" }, /PORT/],
    [{ PORT: "70000" }, /PORT/],
    [{ JWKS_URL: "ftp://x" }, /JWKS_URL/],
    [{ JWT_SECRET: "short" }, /JWT_SECRET/],
    [{ INTERNAL_SECRET: "short" }, /INTERNAL_SECRET/],
    [{ INTROSPECTION: "maybe" }, /INTROSPECTION/],
    [{ SUBGRAPH_TIMEOUT_MS: "5" }, /SUBGRAPH_TIMEOUT_MS/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (error: Error) => error instanceof ConfigError && message.test(error.message),
    );
  }
});

test("the upstream's deadline, circuits, probes and retry budget: defaults, values and refusals", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.requestTimeoutMs, 10_000);
  assert.equal(defaults.subgraphTimeoutMs, 10_000);
  assert.equal(defaults.subgraphCircuitFailures, 3);
  assert.equal(defaults.subgraphEjectSeconds, 10);
  assert.equal(defaults.subgraphProbeIntervalMs, 5000);
  assert.equal(defaults.subgraphProbeTimeoutMs, 2000);
  assert.equal(defaults.subgraphRetryRatio, 0.2);
  assert.equal(defaults.subgraphRetryMinPerSecond, 10);
  const set = loadConfig({
    REQUEST_TIMEOUT_MS: "2500",
    SUBGRAPH_CIRCUIT_FAILURES: "5",
    SUBGRAPH_PROBE_INTERVAL_MS: "0",
    SUBGRAPH_PROBE_TIMEOUT_MS: "300",
    SUBGRAPH_RETRY_RATIO: "0.5",
    SUBGRAPH_RETRY_MIN_PER_SECOND: "0",
  });
  assert.deepEqual(
    [
      set.requestTimeoutMs,
      set.subgraphCircuitFailures,
      set.subgraphProbeIntervalMs,
      set.subgraphProbeTimeoutMs,
      set.subgraphRetryRatio,
      set.subgraphRetryMinPerSecond,
    ],
    [2500, 5, 0, 300, 0.5, 0],
  );
  for (const env of [
    { REQUEST_TIMEOUT_MS: "50" },
    { SUBGRAPH_CIRCUIT_FAILURES: "0" },
    { SUBGRAPH_PROBE_INTERVAL_MS: "50" },
    { SUBGRAPH_PROBE_TIMEOUT_MS: "x" },
    { SUBGRAPH_RETRY_RATIO: "-1" },
    { SUBGRAPH_RETRY_MIN_PER_SECOND: "1.5" },
  ]) {
    const name = Object.keys(env)[0]!;
    assert.throws(
      () => loadConfig(env),
      (error: Error) => error instanceof ConfigError && error.message.startsWith(name),
      name,
    );
  }
});
