import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { sql } from "kysely";
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER } from "../../gateway/config.ts";
import { SEED_USERS } from "../../subgraphs/users/seed.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const JWT_SECRET = "authorization-test-secret-of-32-bytes!!";
const alice = SEED_USERS.find((u) => u.email === "alice@example.com")!;
const bob = SEED_USERS.find((u) => u.email === "bob@example.com")!;

/**
 * An HS256 token (JWT_SECRET is configured) for a seeded user with exactly these scopes, with the
 * issuer and audience the gateway checks by default.
 */
const tokenFor = (sub: string, scope: string) =>
  new SignJWT({ scope })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuer(DEFAULT_JWT_ISSUER)
    .setAudience(DEFAULT_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(JWT_SECRET));

const codes = (errors: { extensions?: { code?: string } }[] | undefined) =>
  (errors ?? []).map((e) => e.extensions?.code);

describe("@authenticated and @requiresScopes, enforced at the gateway", () => {
  let stack: Stack;
  let aliceOrder: string;
  let alicePayment: string;
  let full: string;

  before(async () => {
    stack = await startStack({
      JWT_SECRET,
      RATE_LIMIT_OVERRIDES: "Mutation.login=1000/1m/ip,Mutation.placeOrder=1000/1m/user",
    });
    full = await stack.login("alice@example.com", "alice-password");
    const placed = await stack.graphql<{ placeOrder: { id: string } }>(
      'mutation { placeOrder(input: { items: [{ productId: "prod-005", quantity: 1 }] }) { id } }',
      {},
      full,
    );
    aliceOrder = placed.body.data!.placeOrder.id;
    const paid = await stack.graphql<{ processPayment: { id: string } }>(
      'mutation($id: ID!, $key: String!) { processPayment(input: { orderId: $id, idempotencyKey: $key, paymentMethod: "pm_card_ok" }) { id } }',
      { id: aliceOrder, key: `authz-${aliceOrder}` },
      full,
    );
    alicePayment = paid.body.data!.processPayment.id;
  });
  after(() => stack?.close());

  test("an anonymous operation with nothing it may see is refused whole, before any subgraph call", async () => {
    const before = stack.orders.db.queryCount;
    const res = await stack.graphql(`{ order(id: "${aliceOrder}") { id } }`);
    assert.equal(res.status, 401);
    assert.deepEqual(codes(res.body.errors), ["UNAUTHENTICATED"]);
    assert.equal(stack.orders.db.queryCount, before);
  });

  test("a client token without the users service's issuer and audience is refused by default", async () => {
    const key = new TextEncoder().encode(JWT_SECRET);
    const claims = { scope: "orders:read" };
    const sign = (iss: string | null, aud: string | null) => {
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(alice.id).setIssuedAt();
      if (iss) jwt.setIssuer(iss);
      if (aud) jwt.setAudience(aud);
      return jwt.setExpirationTime("10m").sign(key);
    };
    for (const [iss, aud] of [
      [null, null],
      [DEFAULT_JWT_ISSUER, null],
      [null, DEFAULT_JWT_AUDIENCE],
      ["urn:someone:else", DEFAULT_JWT_AUDIENCE],
      [DEFAULT_JWT_ISSUER, "urn:another:api"],
    ] as const) {
      const res = await stack.graphql("{ me { id } }", {}, await sign(iss, aud));
      assert.equal(res.status, 401, `iss ${iss}, aud ${aud}`);
      assert.deepEqual(codes(res.body.errors), ["UNAUTHENTICATED"]);
    }
    const res = await stack.graphql<{ me: { id: string } }>(
      "{ me { id } }",
      {},
      await sign(DEFAULT_JWT_ISSUER, DEFAULT_JWT_AUDIENCE),
    );
    assert.equal(res.body.data?.me.id, alice.id);
  });

  test("unauthorised fields come back null with an error at their path; the rest runs", async () => {
    const res = await stack.graphql<{ products: { nodes: unknown[] }; mine: unknown }>(
      "query { products(first: 2) { nodes { id } } ...Mine } fragment Mine on Query { mine: me { id } }",
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.data?.products.nodes.length, 2);
    assert.equal(res.body.data?.mine, null);
    assert.deepEqual(
      res.body.errors?.map((e) => [e.path, e.extensions?.code]),
      [[["mine"], "UNAUTHENTICATED"]],
    );
  });

  test("a signed-in caller without the scope gets FORBIDDEN for that field only", async () => {
    const ordersOnly = await tokenFor(alice.id, "profile orders:read");
    const res = await stack.graphql<{ me: { name: string; orders: { id: string; payment: unknown }[] } }>(
      "{ me { name orders { id payment { status } } } }",
      {},
      ordersOnly,
    );
    assert.equal(res.body.data?.me.name, "Alice");
    assert.equal(res.body.data?.me.orders[0]?.id, aliceOrder);
    assert.equal(res.body.data?.me.orders[0]?.payment, null);
    assert.deepEqual(
      res.body.errors?.map((e) => [e.path, e.extensions?.code]),
      [[["me", "orders", "payment"], "FORBIDDEN"]],
    );

    // A non-null field's null goes up to the nearest nullable parent, as GraphQL requires.
    const profileOnly = await tokenFor(alice.id, "profile");
    const up = await stack.graphql<{ me: unknown }>("{ me { name orders { id } } }", {}, profileOnly);
    assert.equal(up.body.data?.me, null);
    assert.deepEqual(codes(up.body.errors), ["FORBIDDEN"]);
  });

  test("one caller's rewritten plan never serves another caller of the same query", async () => {
    const query = "query Picture { me { orders { id payment { status } } } }";
    const limited = await tokenFor(alice.id, "profile orders:read");
    for (let round = 0; round < 2; round++) {
      // The limited caller first: a plan made for it must not serve the full caller, and back.
      const paymentsBefore = stack.payments.db.queryCount;
      const without = await stack.graphql<{ me: { orders: { payment: unknown }[] } }>(query, {}, limited);
      assert.equal(without.body.data?.me.orders[0]?.payment, null);
      assert.deepEqual(codes(without.body.errors), ["FORBIDDEN"]);
      assert.equal(stack.payments.db.queryCount, paymentsBefore, "no payments fetch for a caller without the scope");
      const withScope = await stack.graphql<{ me: { orders: { payment: { status: string } | null }[] } }>(
        query,
        {},
        full,
      );
      assert.equal(withScope.body.errors, undefined);
      assert.equal(withScope.body.data?.me.orders[0]?.payment?.status, "SUCCEEDED");
    }
  });

  test("a mutation the caller may not run is refused whole and writes nothing", async () => {
    const readOnly = await tokenFor(alice.id, "profile orders:read");
    const before = (await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM orders`))!.n;
    const res = await stack.graphql(
      'mutation { placeOrder(input: { items: [{ productId: "prod-006", quantity: 1 }] }) { id } }',
      {},
      readOnly,
    );
    assert.equal(res.status, 403);
    assert.deepEqual(codes(res.body.errors), ["FORBIDDEN"]);
    assert.equal((await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM orders`))!.n, before);
  });

  test("catalogue changes are for catalog:write (admins) only", async () => {
    const admin = await stack.login("admin@example.com", "admin-password");
    const create =
      'mutation { createProduct(input: { name: "Gift Card", priceCents: 2500, stock: 10 }) { id name priceCents stock } }';
    const customer = await stack.graphql(create, {}, full);
    assert.equal(customer.status, 403);
    const created = await stack.graphql<{ createProduct: { id: string; priceCents: number } }>(create, {}, admin);
    assert.equal(created.body.errors, undefined, JSON.stringify(created.body.errors));
    const id = created.body.data!.createProduct.id;
    const updated = await stack.graphql<{ updateProduct: { priceCents: number; stock: number } }>(
      `mutation { updateProduct(id: "${id}", input: { priceCents: 2000 }) { priceCents stock } }`,
      {},
      admin,
    );
    assert.deepEqual(updated.body.data?.updateProduct, { priceCents: 2000, stock: 10 });
    const bad = await stack.graphql(`mutation { updateProduct(id: "${id}", input: { stock: -1 }) { id } }`, {}, admin);
    assert.deepEqual(codes(bad.body.errors), ["BAD_USER_INPUT"]);
  });

  test("ownership: a customer reads only their own user, orders and payments; the admin reads all", async () => {
    const bobToken = await stack.login("bob@example.com", "bob-password");
    const admin = await stack.login("admin@example.com", "admin-password");
    const probes = [
      `{ user(id: "${alice.id}") { email } }`,
      `{ order(id: "${aliceOrder}") { id } }`,
      `{ payment(id: "${alicePayment}") { id } }`,
      `{ payment(id: "${alicePayment}") { order { id } } }`,
    ];
    for (const query of probes) {
      const asBob = await stack.graphql(query, {}, bobToken);
      assert.deepEqual(codes(asBob.body.errors), ["FORBIDDEN"], query);
      const asAdmin = await stack.graphql(query, {}, admin);
      assert.equal(asAdmin.body.errors, undefined, query);
    }
    const own = await stack.graphql<{ user: { email: string } }>(`{ user(id: "${bob.id}") { email } }`, {}, bobToken);
    assert.equal(own.body.data?.user.email, "bob@example.com");
  });
});
