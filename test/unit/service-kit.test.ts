import assert from "node:assert/strict";
import { resolve } from "node:path";
import { test } from "node:test";
import { ConfigError, defineService, readServiceConfig, variable } from "../../subgraphs/kit/config.ts";
import { createIdentityVerifier } from "../../subgraphs/kit/identity.ts";
import { createTestIdentityKeys } from "../helpers/identity.ts";

const keys = createTestIdentityKeys();
const orders = defineService({
  name: "orders",
  defaultPort: 4003,
  peers: ["payments"],
  signs: true,
  variables: { PRODUCTS_URL: variable.httpUrl("http://127.0.0.1:4002/graphql") },
  settings: (vars) => ({ productsUrl: vars.PRODUCTS_URL }),
});

const refusal = (env: NodeJS.ProcessEnv, name: string) =>
  assert.throws(
    () => readServiceConfig(orders, env),
    (error: unknown) => error instanceof ConfigError && error.message.startsWith(name),
    JSON.stringify(env),
  );

test("the defaults, typed and frozen; empty variables count as unset", () => {
  const config = readServiceConfig(orders, { PORT: "", HOST: "" });
  assert.equal(config.port, 4003);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.databasePath, resolve(".data", "orders.db"));
  assert.equal(config.productsUrl, "http://127.0.0.1:4002/graphql");
  assert.equal(config.logLevel, "info");
  assert.equal(config.production, false);
  assert.equal(config.otlpTracesUrl, null);
  assert.ok(Object.isFrozen(config));
});

test("every variable that works today is read", () => {
  const config = readServiceConfig(orders, {
    PORT: "0",
    HOST: "0.0.0.0",
    ...keys.envFor("orders"),
    DATA_DIR: "/tmp/shop",
    PRODUCTS_URL: "http://products:4002/graphql",
    LOG_LEVEL: "silent",
    NODE_ENV: "production",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
  });
  assert.equal(config.port, 0);
  assert.equal(config.identityKeys.signing?.issuer, "orders");
  assert.ok(config.identityKeys.signing?.privateKey.equals(keys.forService("orders").signing!.privateKey));
  assert.deepEqual([...config.identityKeys.trusted.keys()], ["gateway", "payments"]);
  assert.ok(config.identityKeys.trusted.get("gateway")?.equals(keys.publicKey("gateway")));
  assert.equal(config.databasePath, "/tmp/shop/orders.db");
  assert.equal(config.productsUrl, "http://products:4002/graphql");
  assert.equal(config.production, true);
  assert.equal(config.otlpTracesUrl, "http://collector:4318/v1/traces");
  assert.equal(readServiceConfig(orders, { DATABASE_PATH: "/x.db", DATA_DIR: "/y" }).databasePath, "/x.db");
  assert.equal(
    readServiceConfig(orders, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })
      .otlpTracesUrl,
    null,
  );
});

test("a bad value is refused naming the variable; missing keys fail closed off loopback", () => {
  refusal({ PORT: "70000" }, "PORT");
  refusal({ PORT: "http" }, "PORT");
  refusal({ PRODUCTS_URL: "ftp://products" }, "PRODUCTS_URL");
  refusal({ LOG_LEVEL: "chatty" }, "LOG_LEVEL");
  refusal({ IDENTITY_PRIVATE_KEY: "not a key" }, "IDENTITY_PRIVATE_KEY");
  refusal({ ...keys.envFor("orders"), IDENTITY_PUBLIC_KEYS: "[]" }, "IDENTITY_PUBLIC_KEYS");
  refusal({ NODE_ENV: "production" }, "IDENTITY_PRIVATE_KEY");
  refusal({ HOST: "0.0.0.0" }, "IDENTITY_PRIVATE_KEY");
  refusal({ NODE_ENV: "production", IDENTITY_PRIVATE_KEY: keys.pairs.orders!.privateKey }, "IDENTITY_PUBLIC_KEYS");
  refusal({ HOST: "10.0.0.5", IDENTITY_PRIVATE_KEY: keys.pairs.orders!.privateKey }, "IDENTITY_PUBLIC_KEYS");
  // A public key set without the peer this service trusts is refused, naming the peer.
  const withoutPayments = JSON.stringify({ gateway: keys.pairs.gateway!.publicKey });
  assert.throws(
    () => readServiceConfig(orders, { ...keys.envFor("orders"), IDENTITY_PUBLIC_KEYS: withoutPayments }),
    /IDENTITY_PUBLIC_KEYS has no public key for "payments"/,
  );
  // A private key where a public one belongs is refused: it would be handed to every service.
  assert.throws(
    () =>
      readServiceConfig(orders, {
        ...keys.envFor("orders"),
        IDENTITY_PUBLIC_KEYS: JSON.stringify({
          gateway: keys.pairs.gateway!.privateKey,
          payments: keys.pairs.payments!.publicKey,
        }),
      }),
    /IDENTITY_PUBLIC_KEYS "gateway" is a private key/,
  );
  assert.doesNotThrow(() => readServiceConfig(orders, { HOST: "::1" }));
});

test("a verified identity token is remembered until it expires, never past", async (t) => {
  t.mock.timers.enable({ apis: ["Date"], now: Date.now() });
  const verify = createIdentityVerifier({ subgraph: "orders", trusted: keys.forService("orders").trusted });
  const token = await keys.sign({ userId: "u1", scopes: new Set(["orders:read"]) }, "orders");
  const first = await verify(token);
  assert.equal(first.userId, "u1");
  assert.equal(await verify(token), first, "the second request reuses the verification");
  // Another audience is refused whatever is cached.
  await assert.rejects(verify(await keys.sign({ userId: "u1" }, "products")), /Invalid identity token/);
  t.mock.timers.tick(70_000); // past exp and its 5 s leeway
  await assert.rejects(verify(token), /Invalid identity token/);
});

test("without DATABASE_URL, SQLite at the service's path; with it, PostgreSQL in the prefixed schema", () => {
  const sqlite = readServiceConfig(orders, { DATABASE_PATH: "/tmp/x.db" });
  assert.equal(sqlite.databaseUrl, undefined);
  assert.equal(sqlite.databasePath, "/tmp/x.db");
  assert.equal(sqlite.databaseSchemaPrefix, "");
  assert.equal(sqlite.databasePoolSize, 10);
  const postgres = readServiceConfig(orders, {
    DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
    DATABASE_SCHEMA_PREFIX: "ci_1_",
    DATABASE_POOL_SIZE: "4",
  });
  assert.equal(postgres.databaseUrl, "postgres://postgres@127.0.0.1:5432/test");
  assert.equal(postgres.databaseSchemaPrefix, "ci_1_");
  assert.equal(postgres.databasePoolSize, 4);
  assert.equal(readServiceConfig(orders, { DATABASE_URL: "postgresql://db/shop" }).databaseUrl, "postgresql://db/shop");
});

test("a bad database setting is refused naming the variable, without repeating a URL's password", () => {
  refusal({ DATABASE_URL: "mysql://x/y" }, "DATABASE_URL");
  refusal({ DATABASE_URL: "not a url" }, "DATABASE_URL");
  refusal({ DATABASE_SCHEMA_PREFIX: 'x"; DROP' }, "DATABASE_SCHEMA_PREFIX");
  refusal({ DATABASE_SCHEMA_PREFIX: "Upper" }, "DATABASE_SCHEMA_PREFIX");
  refusal({ DATABASE_SCHEMA_PREFIX: "1st" }, "DATABASE_SCHEMA_PREFIX");
  refusal({ DATABASE_SCHEMA_PREFIX: "p".repeat(41) }, "DATABASE_SCHEMA_PREFIX");
  refusal({ DATABASE_POOL_SIZE: "0" }, "DATABASE_POOL_SIZE");
  refusal({ DATABASE_POOL_SIZE: "ten" }, "DATABASE_POOL_SIZE");
  refusal({ DATABASE_POOL_SIZE: "101" }, "DATABASE_POOL_SIZE");
  assert.throws(
    () => readServiceConfig(orders, { DATABASE_URL: "mysql://shop:s3cret@db/shop" }),
    (error: unknown) => error instanceof ConfigError && !error.message.includes("s3cret"),
  );
});
