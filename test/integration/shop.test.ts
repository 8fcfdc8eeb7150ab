import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { type Stack, startStack } from "../helpers/stack.ts";

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { token user { id email name } } }`;
const PLACE_ORDER = `mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { id status totalCents currency items { quantity unitPriceCents product { id name priceCents } } }
}`;
const PAY = `mutation($input: ProcessPaymentInput!) { processPayment(input: $input) { id status amountCents currency order { id status } } }`;

describe("the shop through the gateway", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  test("register, login, browse, order, pay, and see it all from `me`", async () => {
    const email = `carol.${Date.now()}@example.com`;
    const reg = await stack.graphql<{ register: { token: string; user: { id: string; email: string } } }>(REGISTER, {
      input: { email, name: "Carol", password: "correct horse battery" },
    });
    assert.equal(reg.status, 200);
    assert.equal(reg.body.errors, undefined, JSON.stringify(reg.body.errors));
    assert.equal(reg.body.data?.register.user.email, email);

    const token = await stack.login(email, "correct horse battery");
    const me = await stack.graphql<{ me: { id: string } }>("{ me { id } }", {}, token);
    assert.equal(me.body.data?.me.id, reg.body.data?.register.user.id);

    const list = await stack.graphql<{
      products: { nodes: { id: string; priceCents: number; stock: number }[]; totalCount: number };
    }>("{ products(first: 3) { nodes { id priceCents stock } totalCount pageInfo { hasNextPage endCursor } } }");
    assert.equal(list.body.data?.products.nodes.length, 3);
    assert.ok((list.body.data?.products.totalCount ?? 0) >= 50);
    const [a, b] = list.body.data!.products.nodes;

    const placed = await stack.graphql<{
      placeOrder: { id: string; status: string; totalCents: number; items: { unitPriceCents: number }[] };
    }>(
      PLACE_ORDER,
      {
        input: {
          items: [
            { productId: a!.id, quantity: 2 },
            { productId: b!.id, quantity: 1 },
          ],
        },
      },
      token,
    );
    assert.equal(placed.body.errors, undefined, JSON.stringify(placed.body.errors));
    const order = placed.body.data!.placeOrder;
    assert.equal(order.status, "PENDING");
    assert.equal(order.totalCents, a!.priceCents * 2 + b!.priceCents);

    const after = await stack.graphql<{ product: { stock: number } }>(`{ product(id: "${a!.id}") { stock } }`);
    assert.equal(after.body.data?.product.stock, a!.stock - 2);

    const paid = await stack.graphql<{ processPayment: { id: string; status: string; amountCents: number } }>(
      PAY,
      { input: { orderId: order.id, idempotencyKey: `key-${order.id}`, paymentMethod: "pm_card_ok" } },
      token,
    );
    assert.equal(paid.body.errors, undefined, JSON.stringify(paid.body.errors));
    assert.equal(paid.body.data?.processPayment.status, "SUCCEEDED");
    assert.equal(paid.body.data?.processPayment.amountCents, order.totalCents);

    const picture = await stack.graphql<{
      me: {
        orders: { id: string; status: string; items: { product: { name: string } }[]; payment: { status: string } }[];
      };
    }>("{ me { orders { id status items { product { name } } payment { status } } } }", {}, token);
    assert.equal(picture.body.errors, undefined, JSON.stringify(picture.body.errors));
    const mine = picture.body.data!.me.orders;
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.id, order.id);
    assert.equal(mine[0]!.status, "PAID");
    assert.equal(mine[0]!.payment.status, "SUCCEEDED");
    assert.equal(mine[0]!.items.length, 2);
    assert.ok(mine[0]!.items.every((item) => typeof item.product.name === "string" && item.product.name.length > 0));
  });

  test("a declined card leaves the order pending and says PAYMENT_DECLINED", async () => {
    const token = await stack.login("bob@example.com", "bob-password");
    const placed = await stack.graphql<{ placeOrder: { id: string } }>(
      PLACE_ORDER,
      { input: { items: [{ productId: "prod-003", quantity: 1 }] } },
      token,
    );
    const orderId = placed.body.data!.placeOrder.id;
    const declined = await stack.graphql(
      PAY,
      { input: { orderId, idempotencyKey: `decline-${orderId}`, paymentMethod: "pm_card_declined" } },
      token,
    );
    assert.equal(declined.body.errors?.[0]?.extensions?.code, "PAYMENT_DECLINED");
    const order = await stack.graphql<{ order: { status: string } }>(
      `{ order(id: "${orderId}") { status } }`,
      {},
      token,
    );
    assert.equal(order.body.data?.order.status, "PENDING");
  });

  test("20 concurrent orders for a product with 5 in stock: exactly 5 succeed, stock ends at 0", async () => {
    await stack.products.db.run(sql`UPDATE products SET stock = 5 WHERE id = ${"prod-010"}`);
    const token = await stack.login("alice@example.com", "alice-password");
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        stack.graphql(PLACE_ORDER, { input: { items: [{ productId: "prod-010", quantity: 1 }] } }, token),
      ),
    );
    const ok = results.filter((r) => r.body.data?.placeOrder);
    const refused = results.filter((r) => r.body.errors?.[0]?.extensions?.code === "INSUFFICIENT_STOCK");
    assert.equal(ok.length, 5);
    assert.equal(refused.length, 15);
    const stock = await stack.graphql<{ product: { stock: number } }>('{ product(id: "prod-010") { stock } }');
    assert.equal(stock.body.data?.product.stock, 0);
  });

  test("10 concurrent payments with one idempotency key make one charge and one Payment", async () => {
    const token = await stack.login("alice@example.com", "alice-password");
    const placed = await stack.graphql<{ placeOrder: { id: string } }>(
      PLACE_ORDER,
      { input: { items: [{ productId: "prod-020", quantity: 1 }] } },
      token,
    );
    const orderId = placed.body.data!.placeOrder.id;
    const before = stack.sandbox.stats().charges;
    const input = { orderId, idempotencyKey: `race-${orderId}`, paymentMethod: "pm_card_ok" };
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        stack.graphql<{ processPayment: { id: string; status: string } }>(PAY, { input }, token),
      ),
    );
    const ids = new Set(results.map((r) => r.body.data?.processPayment.id));
    assert.equal(ids.size, 1, JSON.stringify(results.map((r) => r.body)));
    assert.ok([...ids][0], "every response carries the payment id");
    assert.equal(stack.sandbox.stats().charges - before, 1);
  });

  test("N products in one request cost one products query", async () => {
    const token = await stack.login("alice@example.com", "alice-password");
    const items = ["prod-030", "prod-031", "prod-032", "prod-033", "prod-034"].map((productId) => ({
      productId,
      quantity: 1,
    }));
    const placed = await stack.graphql<{ placeOrder: { id: string } }>(PLACE_ORDER, { input: { items } }, token);
    const orderId = placed.body.data!.placeOrder.id;
    const before = stack.products.db.queryCount;
    const res = await stack.graphql<{ order: { items: { product: { name: string } }[] } }>(
      `{ order(id: "${orderId}") { items { product { name priceCents } } } }`,
      {},
      token,
    );
    assert.equal(res.body.data?.order.items.length, 5);
    assert.equal(stack.products.db.queryCount - before, 1);
  });

  test("bad input gets a clear code and writes nothing", async () => {
    const token = await stack.login("alice@example.com", "alice-password");
    const ordersBefore = (await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM orders`))!.n;
    const stockBefore = await stack.graphql<{ product: { stock: number } }>('{ product(id: "prod-040") { stock } }');

    const cases: [unknown[], string][] = [
      [
        [
          { productId: "prod-040", quantity: 1 },
          { productId: "no-such-product", quantity: 1 },
        ],
        "BAD_USER_INPUT",
      ],
      [[{ productId: "prod-040", quantity: 0 }], "BAD_USER_INPUT"],
      [[{ productId: "prod-040", quantity: -3 }], "BAD_USER_INPUT"],
      [[{ productId: "prod-040", quantity: 1_000_000 }], "BAD_USER_INPUT"],
      [[], "BAD_USER_INPUT"],
    ];
    for (const [items, code] of cases) {
      const res = await stack.graphql(PLACE_ORDER, { input: { items } }, token);
      assert.equal(res.body.errors?.[0]?.extensions?.code, code, JSON.stringify({ items, body: res.body }));
    }
    const huge = await stack.graphql(
      PLACE_ORDER,
      { input: { items: [{ productId: "prod-040", quantity: 2 ** 40 }] } },
      token,
    );
    assert.equal(huge.status, 400);
    assert.equal(huge.body.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");

    assert.equal((await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM orders`))!.n, ordersBefore);
    const stockAfter = await stack.graphql<{ product: { stock: number } }>('{ product(id: "prod-040") { stock } }');
    assert.equal(stockAfter.body.data?.product.stock, stockBefore.body.data?.product.stock);

    const usersBefore = (await stack.users.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM users`))!.n;
    const badRegistrations = [
      { email: "not-an-email", name: "X", password: "long enough pass 1" },
      { email: "weak@example.com", name: "X", password: "short" },
      { email: "alice@example.com", name: "Alice Again", password: "long enough pass 1" },
    ];
    for (const input of badRegistrations) {
      const res = await stack.graphql(REGISTER, { input });
      assert.equal(res.body.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(res.body));
    }
    assert.equal((await stack.users.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM users`))!.n, usersBefore);

    const malformed = await stack.graphql("{ products(first: 2) { nodes { id }");
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.errors?.[0]?.extensions?.code, "GRAPHQL_PARSE_FAILED");
    const invalid = await stack.graphql("{ products { nope } }");
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
  });

  test("authentication: missing token where needed, and any invalid token, is UNAUTHENTICATED", async () => {
    const anonymous = await stack.graphql("{ me { id } }");
    assert.equal(anonymous.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");

    const token = await stack.login("alice@example.com", "alice-password");
    const [header, payload] = token.split(".");
    const tampered = `${header}.${Buffer.from(JSON.stringify({ sub: "someone-else", exp: 9999999999 })).toString("base64url")}.${token.split(".")[2]}`;
    for (const bad of [tampered, "garbage", `${header}.${payload}.`, `${token}${"a".repeat(10_000)}`]) {
      const res = await stack.graphql("{ products(first: 1) { nodes { id } } }", {}, bad);
      assert.equal(res.status, 401, bad.slice(0, 40));
      assert.equal(res.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /);
    }
  });

  test("a subgraph called directly with a hand-made identity gets nothing", async () => {
    const forged = await fetch(stack.subgraphUrls.orders, {
      method: "POST",
      headers: { "content-type": "application/json", "x-identity-token": "eyJhbGciOiJIUzI1NiJ9.e30.forged" },
      body: JSON.stringify({ query: '{ order(id: "x") { id } }' }),
    });
    assert.equal(forged.status, 401);
  });

  test("health and readiness", async () => {
    assert.equal((await fetch(`${stack.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${stack.url}/readyz`)).status, 200);
  });
});
