import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { pino } from "pino";
import { IDENTITY_HEADER, type Identity } from "../../subgraphs/kit/identity.ts";
import { createOrdersService, type OrdersService } from "../../subgraphs/orders/server.ts";
import { createProductsService, type ProductsService } from "../../subgraphs/products/server.ts";
import { testDatabase } from "../helpers/database.ts";
import { testKeys } from "../helpers/identity.ts";

const silent = pino({ level: "silent" });

interface GraphQLResult<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

interface Stack {
  products: ProductsService & { url: string };
  orders: OrdersService;
  ordersUrl: string;
  close(): Promise<void>;
}

async function startStack(): Promise<Stack> {
  const products = await createProductsService({
    ...testDatabase(),
    identityKeys: testKeys.forService("products"),
    logger: silent,
  });
  const productsUrl = await products.listen(0);
  const orders = await createOrdersService({
    ...testDatabase(),
    identityKeys: testKeys.forService("orders"),
    productsUrl,
    logger: silent,
  });
  const ordersUrl = await orders.listen(0);
  return {
    products: Object.assign(products, { url: productsUrl }),
    orders,
    ordersUrl,
    async close() {
      await orders.close();
      await products.close();
    },
  };
}

const sign = (identity: Partial<Identity>) => testKeys.sign(identity, "orders");
const user = (userId: string) => sign({ userId, scopes: new Set(["customer"]) });
const admin = () => sign({ userId: "admin-1", scopes: new Set(["admin"]) });
/** Payments, the one peer allowed to mark orders paid, signing as itself. */
const peer = () => testKeys.sign({}, "orders", "payments");

async function gql<T>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers[IDENTITY_HEADER] = token;
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as GraphQLResult<T>;
}

interface OrderView {
  id: string;
  status: string;
  totalCents: number;
  currency: string;
  createdAt: string;
  user: { id: string };
  items: { product: { id: string }; quantity: number; unitPriceCents: number }[];
}

const ORDER_FIELDS =
  "id status totalCents currency createdAt user { id } items { product { id } quantity unitPriceCents }";
const PLACE = `mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_FIELDS} } }`;
const MARK_PAID = "mutation ($o: ID!, $p: ID!) { markOrderPaid(orderId: $o, paymentId: $p) { id status } }";

type Line = { productId: string; quantity: number };

function placeOrder(stack: Stack, items: Line[], token: string) {
  return gql<{ placeOrder: OrderView }>(stack.ordersUrl, PLACE, { input: { items } }, token);
}

/** Everything a failed placeOrder must leave untouched. */
async function snapshot(stack: Stack) {
  return {
    orders: (await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM orders`))?.n,
    items: (await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM order_items`))?.n,
    held: (
      await stack.products.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM reservations WHERE status = 'HELD'`)
    )?.n,
    stock: await stack.products.db.all<{ id: string; stock: number }>(sql`SELECT id, stock FROM products ORDER BY id`),
  };
}

const price = async (stack: Stack, id: string) =>
  (await stack.products.db.get<{ price_cents: number }>(sql`SELECT price_cents FROM products WHERE id = ${id}`))!
    .price_cents;
const stock = async (stack: Stack, id: string) =>
  (await stack.products.db.get<{ stock: number }>(sql`SELECT stock FROM products WHERE id = ${id}`))!.stock;

describe("orders subgraph", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  test("placeOrder prices the order from the catalogue and takes the stock", async () => {
    const before = { s1: await stock(stack, "prod-001"), s2: await stock(stack, "prod-002") };
    const res = await placeOrder(
      stack,
      [
        { productId: "prod-001", quantity: 2 },
        { productId: "prod-002", quantity: 3 },
      ],
      await user("alice"),
    );
    assert.equal(res.errors, undefined);
    const order = res.data!.placeOrder;
    assert.match(order.id, /^[0-9a-f-]{36}$/);
    assert.equal(order.status, "PENDING");
    assert.equal(order.currency, "USD");
    assert.equal(order.user.id, "alice");
    assert.ok(!Number.isNaN(Date.parse(order.createdAt)));
    assert.deepEqual(order.items, [
      { product: { id: "prod-001" }, quantity: 2, unitPriceCents: await price(stack, "prod-001") },
      { product: { id: "prod-002" }, quantity: 3, unitPriceCents: await price(stack, "prod-002") },
    ]);
    assert.equal(order.totalCents, 2 * (await price(stack, "prod-001")) + 3 * (await price(stack, "prod-002")));
    assert.equal(await stock(stack, "prod-001"), before.s1 - 2);
    assert.equal(await stock(stack, "prod-002"), before.s2 - 3);
  });

  test("placeOrder without a user is UNAUTHENTICATED and writes nothing", async () => {
    const before = await snapshot(stack);
    const res = await gql(stack.ordersUrl, PLACE, { input: { items: [{ productId: "prod-001", quantity: 1 }] } });
    assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.deepEqual(await snapshot(stack), before);
  });

  test("one valid and one unknown item: the peer's BAD_USER_INPUT, nothing written, no stock changed", async () => {
    const before = await snapshot(stack);
    const res = await placeOrder(
      stack,
      [
        { productId: "prod-003", quantity: 1 },
        { productId: "prod-404", quantity: 1 },
      ],
      await user("alice"),
    );
    assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.equal(res.errors?.[0]?.extensions?.productId, "prod-404");
    assert.deepEqual(await snapshot(stack), before);
  });

  const invalid: [string, Line[], string][] = [
    ["quantity 0", [{ productId: "prod-001", quantity: 0 }], "items[0].quantity"],
    ["quantity -1", [{ productId: "prod-001", quantity: -1 }], "items[0].quantity"],
    ["quantity 1000000", [{ productId: "prod-001", quantity: 1_000_000 }], "items[0].quantity"],
    ["no items", [], "items"],
    ["51 items", Array.from({ length: 51 }, (_, i) => ({ productId: `prod-${i}`, quantity: 1 })), "items"],
    [
      "a duplicate product",
      [
        { productId: "prod-001", quantity: 1 },
        { productId: "prod-001", quantity: 2 },
      ],
      "items[1].productId",
    ],
  ];
  for (const [name, items, field] of invalid) {
    test(`${name} is BAD_USER_INPUT on ${field} and writes nothing`, async () => {
      const before = await snapshot(stack);
      const res = await placeOrder(stack, items, await user("alice"));
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(res.errors?.[0]?.extensions?.field, field);
      assert.deepEqual(await snapshot(stack), before);
    });
  }

  test("mixed currencies are BAD_USER_INPUT and the reserved stock is given back", async () => {
    await stack.products.db.run(sql`UPDATE products SET currency = 'EUR' WHERE id = 'prod-020'`);
    const before = await snapshot(stack);
    const res = await placeOrder(
      stack,
      [
        { productId: "prod-021", quantity: 1 },
        { productId: "prod-020", quantity: 1 },
      ],
      await user("alice"),
    );
    assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.deepEqual(await snapshot(stack), before);
  });

  test("a failed insert releases the reservation", async () => {
    // A row the database itself refuses, after the stock was reserved.
    if (stack.orders.db.engine === "postgres") {
      await stack.orders.db.run(
        sql`CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`,
      );
      await stack.orders.db.run(
        sql`CREATE TRIGGER refuse_doomed BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.user_id = 'doomed') EXECUTE FUNCTION refuse_doomed()`,
      );
    } else {
      await stack.orders.db.run(
        sql`CREATE TRIGGER refuse_doomed BEFORE INSERT ON orders WHEN NEW.user_id = 'doomed' BEGIN SELECT RAISE(ABORT, 'refused'); END`,
      );
    }
    try {
      const before = await snapshot(stack);
      const res = await placeOrder(stack, [{ productId: "prod-030", quantity: 4 }], await user("doomed"));
      assert.equal(res.errors?.[0]?.extensions?.code, "INTERNAL_SERVER_ERROR");
      assert.deepEqual(await snapshot(stack), before);
      const released = await stack.products.db.get<{ n: number }>(
        sql`SELECT COUNT(*) AS n FROM reservations WHERE status = 'RELEASED'`,
      );
      assert.ok((released?.n ?? 0) >= 1);
    } finally {
      await stack.orders.db.run(
        stack.orders.db.engine === "postgres"
          ? sql`DROP TRIGGER refuse_doomed ON orders`
          : sql`DROP TRIGGER refuse_doomed`,
      );
    }
  });

  describe("reading orders", () => {
    let aliceOrders: OrderView[];
    before(async () => {
      aliceOrders = [];
      for (const productId of ["prod-040", "prod-041", "prod-042"]) {
        const res = await placeOrder(stack, [{ productId, quantity: 1 }], await user("reader-alice"));
        aliceOrders.push(res.data!.placeOrder);
      }
      await placeOrder(stack, [{ productId: "prod-043", quantity: 1 }], await user("reader-bob"));
    });

    test("the owner and an admin read an order; another customer is FORBIDDEN, anonymous UNAUTHENTICATED", async () => {
      const query = `query ($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
      const id = aliceOrders[0]!.id;
      for (const token of [await user("reader-alice"), await admin()]) {
        const res = await gql<{ order: OrderView }>(stack.ordersUrl, query, { id }, token);
        assert.equal(res.errors, undefined);
        assert.deepEqual(res.data?.order, aliceOrders[0]);
      }
      const other = await gql(stack.ordersUrl, query, { id }, await user("reader-bob"));
      assert.equal(other.errors?.[0]?.extensions?.code, "FORBIDDEN");
      const anonymous = await gql(stack.ordersUrl, query, { id });
      assert.equal(anonymous.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    });

    test("an unknown order is null", async () => {
      const res = await gql<{ order: unknown }>(stack.ordersUrl, '{ order(id: "nope") { id } }', {}, await admin());
      assert.equal(res.errors, undefined);
      assert.equal(res.data?.order, null);
    });

    test("User.orders for 3 users via _entities is one query, newest first", async () => {
      const before = stack.orders.db.queryCount;
      const res = await gql<{ _entities: { id: string; orders: { id: string }[] }[] }>(
        stack.ordersUrl,
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { id orders { id totalCents status } } } }",
        {
          r: ["reader-alice", "reader-bob", "reader-nobody"].map((id) => ({ __typename: "User", id })),
        },
        await admin(),
      );
      assert.equal(stack.orders.db.queryCount - before, 1);
      assert.equal(res.errors, undefined);
      const [alice, bob, nobody] = res.data!._entities;
      assert.deepEqual(
        alice?.orders.map((o) => o.id),
        aliceOrders.map((o) => o.id).reverse(),
      );
      assert.equal(bob?.orders.length, 1);
      assert.deepEqual(nobody?.orders, []);
    });

    test("User.orders of someone else is FORBIDDEN", async () => {
      const res = await gql(
        stack.ordersUrl,
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { orders { id } } } }",
        { r: [{ __typename: "User", id: "reader-alice" }] },
        await user("reader-bob"),
      );
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
    });

    test("Order references resolve in one orders query plus one items query, for a peer service", async () => {
      const before = stack.orders.db.queryCount;
      const res = await gql<{ _entities: { id: string; items: unknown[] }[] }>(
        stack.ordersUrl,
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id totalCents items { quantity } } } }",
        { r: aliceOrders.map((o) => ({ __typename: "Order", id: o.id })) },
        await peer(),
      );
      assert.equal(res.errors, undefined);
      assert.equal(stack.orders.db.queryCount - before, 2);
      assert.deepEqual(
        res.data?._entities.map((o) => o.items.length),
        [1, 1, 1],
      );
    });

    test("an Order reference another customer owns is FORBIDDEN", async () => {
      const res = await gql(
        stack.ordersUrl,
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id } } }",
        { r: [{ __typename: "Order", id: aliceOrders[0]!.id }] },
        await user("reader-bob"),
      );
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
    });
  });

  describe("markOrderPaid", () => {
    let orderId: string;
    before(async () => {
      const res = await placeOrder(stack, [{ productId: "prod-050", quantity: 1 }], await user("payer"));
      orderId = res.data!.placeOrder.id;
    });

    test("customers get FORBIDDEN", async () => {
      const res = await gql(stack.ordersUrl, MARK_PAID, { o: orderId, p: "pay-1" }, await user("payer"));
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
    });

    test("PENDING becomes PAID once; a retry returns the order as it is", async () => {
      const first = await gql<{ markOrderPaid: { status: string } }>(
        stack.ordersUrl,
        MARK_PAID,
        { o: orderId, p: "pay-1" },
        await peer(),
      );
      assert.equal(first.data?.markOrderPaid.status, "PAID");
      const row = () =>
        stack.orders.db.get<{ status: string; payment_id: string; updated_at: string }>(
          sql`SELECT status, payment_id, updated_at FROM orders WHERE id = ${orderId}`,
        );
      const paid = await row();
      assert.equal(paid?.payment_id, "pay-1");
      const again = await gql<{ markOrderPaid: { status: string } }>(
        stack.ordersUrl,
        MARK_PAID,
        { o: orderId, p: "pay-1" },
        await peer(),
      );
      assert.equal(again.errors, undefined);
      assert.equal(again.data?.markOrderPaid.status, "PAID");
      assert.deepEqual(await row(), paid);
    });

    test("an unknown order is NOT_FOUND, a cancelled one BAD_USER_INPUT", async () => {
      const unknown = await gql(stack.ordersUrl, MARK_PAID, { o: "nope", p: "pay-2" }, await peer());
      assert.equal(unknown.errors?.[0]?.extensions?.code, "NOT_FOUND");
      const placed = await placeOrder(stack, [{ productId: "prod-051", quantity: 1 }], await user("payer"));
      const id = placed.data!.placeOrder.id;
      await stack.orders.db.run(sql`UPDATE orders SET status = 'CANCELLED' WHERE id = ${id}`);
      const cancelled = await gql(stack.ordersUrl, MARK_PAID, { o: id, p: "pay-3" }, await peer());
      assert.equal(cancelled.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(
        (await stack.orders.db.get<{ status: string }>(sql`SELECT status FROM orders WHERE id = ${id}`))?.status,
        "CANCELLED",
      );
    });
  });
});

describe("orders and the expiry of their stock reservations", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  const RESERVE = `mutation ($input: ReserveStockInput!) { reserveStock(input: $input) { orderId } }`;
  const reservation = (orderId: string) =>
    stack.products.db.get<{ status: string; claimed_at: string | null }>(
      sql`SELECT status, claimed_at FROM reservations WHERE order_id = ${orderId}`,
    );
  const orderRow = (orderId: string) =>
    stack.orders.db.get<{ status: string; stock_claimed: number }>(
      sql`SELECT status, stock_claimed FROM orders WHERE id = ${orderId}`,
    );

  /** What a crash after writing the order and before claiming leaves behind. */
  async function writtenButUnclaimed(orderId: string, productId: string, quantity: number) {
    const reserved = await gql(
      stack.products.url,
      RESERVE,
      { input: { orderId, items: [{ productId, quantity }] } },
      await testKeys.sign({}, "products", "orders"),
    );
    assert.equal(reserved.errors, undefined, JSON.stringify(reserved.errors));
    await stack.orders.db.run(sql`INSERT INTO orders (id, user_id, status, total_cents, currency, payment_id, created_at, updated_at, stock_claimed)
       VALUES (${orderId}, 'crash-user', 'PENDING', 100, 'USD', NULL, ${new Date().toISOString()}, ${new Date().toISOString()}, 0)`);
  }

  test("a placed order has claimed its reservation", async () => {
    const res = await placeOrder(stack, [{ productId: "prod-050", quantity: 1 }], await user("claimer"));
    const id = res.data!.placeOrder.id;
    assert.ok((await reservation(id))?.claimed_at);
    assert.equal((await orderRow(id))?.stock_claimed, 1);
  });

  test("an order its process never claimed is claimed by the periodic pass, and can then be paid", async () => {
    await writtenButUnclaimed("crash-claim", "prod-051", 2);
    const paidTooEarly = await gql(stack.ordersUrl, MARK_PAID, { o: "crash-claim", p: "pay-1" }, await peer());
    assert.equal(paidTooEarly.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.ok((await stack.orders.claimPendingStock()) >= 1);
    assert.ok((await reservation("crash-claim"))?.claimed_at);
    assert.equal((await orderRow("crash-claim"))?.stock_claimed, 1);
    const paid = await gql(stack.ordersUrl, MARK_PAID, { o: "crash-claim", p: "pay-1" }, await peer());
    assert.equal(paid.errors, undefined, JSON.stringify(paid.errors));
  });

  test("an order whose hold expired before the claim is CANCELLED and its stock is back once", async () => {
    const before = await stock(stack, "prod-052");
    await writtenButUnclaimed("crash-expired", "prod-052", 3);
    assert.equal(await stock(stack, "prod-052"), before - 3);
    await stack.products.db.run(
      sql`UPDATE reservations SET expires_at = ${new Date(Date.now() - 1000).toISOString()} WHERE order_id = 'crash-expired'`,
    );
    assert.ok((await stack.orders.claimPendingStock()) >= 1);
    assert.equal((await orderRow("crash-expired"))?.status, "CANCELLED");
    assert.equal((await reservation("crash-expired"))?.status, "RELEASED");
    assert.equal(await stock(stack, "prod-052"), before);
    assert.equal(await stack.products.expireReservations(), 0);
    assert.equal(await stock(stack, "prod-052"), before);
  });
});

describe("orders under contention and failure", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  test("20 concurrent orders for a product with stock 5: exactly 5 succeed", async () => {
    await stack.products.db.run(sql`UPDATE products SET stock = 5 WHERE id = 'prod-010'`);
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => user(`buyer-${i}`)));
    const results = await Promise.all(
      tokens.map((token) => placeOrder(stack, [{ productId: "prod-010", quantity: 1 }], token)),
    );
    const ok = results.filter((r) => r.data?.placeOrder);
    const codes = results.filter((r) => r.errors).map((r) => r.errors?.[0]?.extensions?.code);
    assert.equal(ok.length, 5);
    assert.deepEqual(codes, new Array(15).fill("INSUFFICIENT_STOCK"));
    assert.equal(await stock(stack, "prod-010"), 0);
    assert.equal((await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM orders`))?.n, 5);
    assert.equal((await stack.orders.db.get<{ n: number }>(sql`SELECT SUM(quantity) AS n FROM order_items`))?.n, 5);
  });

  test("with products down, placeOrder is SUBGRAPH_UNAVAILABLE and writes nothing", async () => {
    await stack.products.close();
    const res = await placeOrder(stack, [{ productId: "prod-011", quantity: 1 }], await user("late"));
    assert.equal(res.errors?.[0]?.extensions?.code, "SUBGRAPH_UNAVAILABLE");
    assert.equal((await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM orders`))?.n, 5);
  });
});
