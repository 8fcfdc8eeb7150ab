import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../gateway/config.ts";
import { readSchemaPolicies } from "../../gateway/guards/directives.ts";
import { mergeRules, parseOverrides, parseWindow } from "../../gateway/guards/policy.ts";
import { testKeys } from "../helpers/identity.ts";
import { composeFor } from "../helpers/services.ts";

describe("rate limit rules", () => {
  test("windows take a number and a unit", () => {
    assert.equal(parseWindow("1m"), 60_000);
    assert.equal(parseWindow("30s"), 30_000);
    assert.equal(parseWindow("250ms"), 250);
    assert.equal(parseWindow("2h"), 7_200_000);
    for (const bad of ["", "1", "m", "1w", "-1s", "0s", "8d"]) assert.throws(() => parseWindow(bad), RangeError, bad);
  });

  test("overrides as a list or as JSON; off removes a declared limit", () => {
    const list = parseOverrides("Mutation.login=100/1m/ip, Query.products=600/30s,Mutation.register=off");
    assert.deepEqual(list.get("Mutation.login"), {
      coordinate: "Mutation.login",
      max: 100,
      windowMs: 60_000,
      identity: "ip",
      arrayLengthField: null,
    });
    assert.equal(list.get("Query.products")?.identity, "user");
    assert.equal(list.get("Mutation.register"), null);
    const json = parseOverrides('{"Query.payments": {"max": 2, "window": "1h", "arrayLengthField": "ids"}}');
    assert.equal(json.get("Query.payments")?.arrayLengthField, "ids");
    for (const bad of ["login=5/1m", "Mutation.login=5", "Mutation.login=x/1m", "Mutation.login=5/1m/robot", "{"]) {
      assert.throws(() => parseOverrides(bad), RangeError, bad);
    }
  });

  test("merging: overrides win and null removes", () => {
    const declared = parseOverrides("Mutation.login=5/1m/ip,Mutation.register=5/1m/ip") as Map<string, never>;
    const merged = mergeRules(declared, parseOverrides("Mutation.login=50/1m/ip,Mutation.register=off"));
    assert.equal(merged.get("Mutation.login")?.max, 50);
    assert.equal(merged.has("Mutation.register"), false);
  });
});

describe("reading limits from the supergraph", () => {
  test("the composed shop carries the subgraphs' @rateLimit declarations", () => {
    const sdl = composeFor({
      users: "http://127.0.0.1:1/graphql",
      products: "http://127.0.0.1:2/graphql",
      orders: "http://127.0.0.1:3/graphql",
      payments: "http://127.0.0.1:4/graphql",
    });
    const { rateLimits, problems } = readSchemaPolicies(sdl);
    assert.deepEqual(problems, []);
    const summary = Object.fromEntries([...rateLimits].map(([k, r]) => [k, [r.max, r.windowMs, r.identity]]));
    assert.deepEqual(summary, {
      "Mutation.login": [5, 60_000, "ip"],
      "Mutation.register": [5, 60_000, "ip"],
      "Mutation.placeOrder": [30, 60_000, "user"],
      "Mutation.processPayment": [10, 60_000, "user"],
    });
  });

  test("renamed imports, @listSize and @cost are followed; bad declarations are reported, not fatal", () => {
    const sdl = `
      schema
        @link(url: "https://specs.apollo.dev/link/v1.0")
        @link(url: "https://shop.example/rate-limit/v1.0", import: [{ name: "@rateLimit", as: "@limit" }])
        @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@listSize", "@cost"])
      { query: Query }
      type Query {
        a: Int @limit(max: 2, window: "10s")
        b: Int @limit(max: 2, window: "soon")
        items(take: Int): [Int] @listSize(slicingArguments: ["take"], assumedSize: 50)
        heavy: Int @cost(weight: 20)
      }`;
    const policies = readSchemaPolicies(sdl);
    assert.equal(policies.rateLimits.get("Query.a")?.windowMs, 10_000);
    assert.equal(policies.rateLimits.has("Query.b"), false);
    assert.equal(policies.problems.length, 1);
    assert.match(policies.problems[0]!, /Query\.b/);
    assert.deepEqual(policies.listSizes.get("Query.items")?.slicingArguments, ["take"]);
    assert.equal(policies.weights.get("Query.heavy"), 20);
  });
});

describe("guards configuration", () => {
  const base = { ...testKeys.gatewayEnv };

  test("defaults protect without refusing the shop's own traffic", () => {
    const { guards } = loadConfig(base);
    assert.equal(guards.redisUrl, null);
    assert.equal(guards.maxDepth, 10);
    assert.equal(guards.maxAliases, 20);
    assert.equal(guards.maxTokens, 2000);
    assert.equal(guards.batchMax, 0);
    assert.deepEqual(guards.throttleExempt, ["127.0.0.0/8", "::1/128"]);
    assert.deepEqual(guards.trustedProxies, []);
    assert.ok(Object.isFrozen(guards));
  });

  test("values are parsed and validated; a bad one names its variable", () => {
    const { guards } = loadConfig({
      ...base,
      REDIS_URL: "redis://127.0.0.1:6379/2",
      TRUSTED_PROXIES: "10.0.0.0/8, loopback",
      IP_DENY: "203.0.113.7",
      THROTTLE_EXEMPT: "none",
      RATE_LIMIT_OVERRIDES: "Mutation.login=10/1m/ip",
    });
    assert.deepEqual(guards.trustedProxies, ["10.0.0.0/8", "loopback"]);
    assert.deepEqual(guards.ipDeny, ["203.0.113.7/32"]);
    assert.deepEqual(guards.throttleExempt, []);
    assert.equal(guards.rateLimitOverrides.get("Mutation.login")?.max, 10);
    const cases: Record<string, string> = {
      REDIS_URL: "http://127.0.0.1:6379",
      TRUSTED_PROXIES: "10.0.0.0/33",
      IP_ALLOW: "not-an-ip",
      RATE_LIMIT_OVERRIDES: "Mutation.login=5",
      MAX_DEPTH: "-1",
      BATCH_MAX: "many",
      THROTTLE_RPS: "1.5",
    };
    for (const [name, value] of Object.entries(cases)) {
      assert.throws(
        () => loadConfig({ ...base, [name]: value }),
        (error: unknown) => error instanceof ConfigError && error.message.includes(name),
        name,
      );
    }
  });
});
