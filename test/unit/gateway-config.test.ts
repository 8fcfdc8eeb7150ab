import assert from "node:assert/strict";
import { test } from "node:test";
import { developmentIdentityKey } from "../../common/identity-keys.ts";
import { ConfigError, loadConfig } from "../../gateway/config.ts";
import { testKeys } from "../helpers/identity.ts";

test("defaults are safe for development and frozen", () => {
  const config = loadConfig({});
  assert.equal(config.port, 4000);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.production, false);
  assert.equal(config.introspection, true);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.auth));
});

test("production turns introspection off and requires the identity key", () => {
  assert.throws(() => loadConfig({ NODE_ENV: "production" }), /IDENTITY_PRIVATE_KEY is required in production/);
  const config = loadConfig({ NODE_ENV: "production", ...testKeys.gatewayEnv });
  assert.equal(config.introspection, false);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.identityKey.issuer, "gateway");
});

test("the development identity key only on loopback outside production", () => {
  assert.ok(loadConfig({}).identityKey.privateKey.equals(developmentIdentityKey("gateway")));
  assert.ok(loadConfig({ HOST: "::1" }).identityKey.privateKey.equals(developmentIdentityKey("gateway")));
  for (const host of ["0.0.0.0", "10.1.2.3"]) {
    assert.throws(() => loadConfig({ HOST: host }), /IDENTITY_PRIVATE_KEY is required when listening on/);
  }
  const given = loadConfig({ HOST: "0.0.0.0", ...testKeys.gatewayEnv }).identityKey.privateKey;
  assert.ok(given.equals(testKeys.forService("gateway").signing!.privateKey));
});

test("client tokens are checked for what the users service issues unless told otherwise", () => {
  assert.equal(loadConfig({}).auth.issuer, "urn:shop:users");
  assert.equal(loadConfig({}).auth.audience, "urn:shop:api");
  const other = loadConfig({ JWT_ISSUER: "https://idp.example/", JWT_AUDIENCE: "api://shop" });
  assert.equal(other.auth.issuer, "https://idp.example/");
  assert.equal(other.auth.audience, "api://shop");
});

test("/metrics: open on the public port outside production; in production its own port or a token", () => {
  assert.deepEqual(loadConfig({}).metricsAccess, { port: null, host: "127.0.0.1", token: null, onPublicPort: true });
  const production = { NODE_ENV: "production", ...testKeys.gatewayEnv };
  assert.equal(loadConfig(production).metricsAccess.onPublicPort, false);
  const token = "metrics-token-0123456789";
  assert.deepEqual(loadConfig({ ...production, METRICS_TOKEN: token }).metricsAccess, {
    port: null,
    host: "0.0.0.0",
    token,
    onPublicPort: true,
  });
  assert.deepEqual(loadConfig({ ...production, METRICS_PORT: "9464", METRICS_HOST: "10.0.0.1" }).metricsAccess, {
    port: 9464,
    host: "10.0.0.1",
    token: null,
    onPublicPort: false,
  });
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
    [{ IDENTITY_PRIVATE_KEY: "short" }, /IDENTITY_PRIVATE_KEY/],
    [{ METRICS_TOKEN: "short" }, /METRICS_TOKEN/],
    [{ METRICS_PORT: "99999" }, /METRICS_PORT/],
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

test("the heap growth bound: 50% by default, 0 leaves V8's heuristic, anything else is refused by name", () => {
  assert.equal(loadConfig({}).heapGrowthPercent, 50);
  assert.equal(loadConfig({ GATEWAY_HEAP_GROWTH_PERCENT: "0" }).heapGrowthPercent, 0);
  assert.equal(loadConfig({ GATEWAY_HEAP_GROWTH_PERCENT: "120" }).heapGrowthPercent, 120);
  for (const raw of ["-1", "1001", "lots", "2.5"]) {
    assert.throws(() => loadConfig({ GATEWAY_HEAP_GROWTH_PERCENT: raw }), /GATEWAY_HEAP_GROWTH_PERCENT/);
  }
});
