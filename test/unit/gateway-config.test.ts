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
