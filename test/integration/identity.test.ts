import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { IDENTITY_HEADER } from "../../common/index.ts";
import { type Services, startServices } from "../helpers/services.ts";

/*
 * Identity that fails closed, against the real services: each subgraph accepts only tokens for its
 * own audience, a peer's key vouches only for that peer, and a process without its keys off
 * loopback (or in production) does not start.
 */

/** Runs an entry point with `env` and resolves with its exit code and standard error. */
function run(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(IDENTITY_|NODE_ENV|HOST|PORT|PAYMENT_PROVIDER_)/.test(name)),
  );
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...clean, PORT: "0", DATABASE_PATH: ":memory:", LOG_LEVEL: "silent", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe("a process without its identity keys does not start where the development keys are not safe", () => {
  for (const [entry, variable] of [
    ["gateway/index.ts", "IDENTITY_PRIVATE_KEY"],
    ["subgraphs/users/index.ts", "IDENTITY_PUBLIC_KEYS"],
    ["subgraphs/products/index.ts", "IDENTITY_PUBLIC_KEYS"],
    ["subgraphs/orders/index.ts", "IDENTITY_PRIVATE_KEY"],
    ["subgraphs/payments/index.ts", "IDENTITY_PRIVATE_KEY"],
  ] as const) {
    test(`${entry} listening on 0.0.0.0 stops naming ${variable}`, async () => {
      const { code, stderr } = await run(entry, { HOST: "0.0.0.0" });
      assert.notEqual(code, 0);
      assert.match(stderr, new RegExp(`${variable} is required when listening on 0\\.0\\.0\\.0`));
    });
  }

  test("in production, even on loopback, the gateway and a service stop naming the variable", async () => {
    const gateway = await run("gateway/index.ts", { NODE_ENV: "production", HOST: "127.0.0.1" });
    assert.notEqual(gateway.code, 0);
    assert.match(gateway.stderr, /IDENTITY_PRIVATE_KEY is required in production/);
    const products = await run("subgraphs/products/index.ts", { NODE_ENV: "production", HOST: "127.0.0.1" });
    assert.notEqual(products.code, 0);
    assert.match(products.stderr, /IDENTITY_PUBLIC_KEYS is required in production/);
  });

  test("the payment provider sandbox off loopback stops without its API key", async () => {
    const { code, stderr } = await run("sandbox/index.ts", { HOST: "0.0.0.0" });
    assert.notEqual(code, 0);
    assert.match(stderr, /PAYMENT_PROVIDER_API_KEY is required when listening on 0\.0\.0\.0/);
  });
});

describe("each subgraph accepts only its own audience and only the peers it trusts", () => {
  let services: Services;
  before(async () => {
    services = await startServices();
  });
  after(() => services?.close());

  async function ask(subgraph: keyof Services["subgraphUrls"], query: string, token: string, variables = {}) {
    const res = await fetch(services.subgraphUrls[subgraph], {
      method: "POST",
      headers: { "content-type": "application/json", [IDENTITY_HEADER]: token },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as {
      data?: Record<string, unknown> | null;
      errors?: { extensions?: { code?: string } }[];
    };
  }
  const admin = { userId: "admin-1", scopes: new Set(["admin", "orders:read", "catalog:write"]) };
  const RESERVE = `mutation($input: ReserveStockInput!) { reserveStock(input: $input) { orderId } }`;
  const reservation = { input: { orderId: "identity-test", items: [{ productId: "prod-001", quantity: 1 }] } };

  test("a gateway token for subgraph:products is refused by orders; its own audience is accepted", async () => {
    const forProducts = await services.identity.sign(admin, "products");
    const refused = await ask("orders", '{ order(id: "x") { id } }', forProducts);
    assert.equal(refused.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    const forOrders = await services.identity.sign(admin, "orders");
    const accepted = await ask("orders", '{ order(id: "x") { id } }', forOrders);
    assert.equal(accepted.errors, undefined);
    assert.deepEqual(accepted.data, { order: null });
  });

  test("orders' key reserves stock at products; payments' key and a gateway-signed service claim cannot", async () => {
    const asOrders = await services.identity.sign({}, "products", "orders");
    assert.equal((await ask("products", RESERVE, asOrders, reservation)).errors, undefined);
    const asPayments = await services.identity.sign({}, "products", "payments");
    assert.equal(
      (await ask("products", RESERVE, asPayments, reservation)).errors?.[0]?.extensions?.code,
      "UNAUTHENTICATED",
    );
    const adminThroughGateway = await services.identity.sign(admin, "products");
    assert.equal(
      (await ask("products", RESERVE, adminThroughGateway, reservation)).errors?.[0]?.extensions?.code,
      "FORBIDDEN",
    );
  });

  test("a peer token minted by orders is no user: it cannot read a user's data at users or act as admin", async () => {
    const asOrders = await services.identity.sign({ userId: "admin-1", scopes: new Set(["admin"]) }, "users", "orders");
    const res = await ask("users", "{ me { id } }", asOrders);
    assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    // Signed for products, orders' peer identity carries no user and no scope but `internal`.
    const forProducts = await services.identity.sign(
      { userId: "admin-1", scopes: new Set(["catalog:write"]) },
      "products",
      "orders",
    );
    const update = await ask(
      "products",
      `mutation { updateProduct(id: "prod-001", input: { priceCents: 1 }) { id } }`,
      forProducts,
    );
    assert.equal(update.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    const price = await services.products.db.get<{ p: number }>(
      sql`SELECT price_cents AS p FROM products WHERE id = 'prod-001'`,
    );
    assert.notEqual(price?.p, 1);
  });
});
