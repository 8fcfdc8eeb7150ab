import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { pino } from "pino";
import { IDENTITY_HEADER, type Identity } from "../../subgraphs/kit/identity.ts";
import { SqlProductRepository } from "../../subgraphs/products/repository.ts";
import { SEED_PRODUCT_COUNT, seedProducts } from "../../subgraphs/products/seed.ts";
import { createProductsService, type ProductsService } from "../../subgraphs/products/server.ts";
import { testDatabase } from "../helpers/database.ts";
import { testKeys } from "../helpers/identity.ts";

interface GraphQLResult<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

async function sign(identity: Partial<Identity>): Promise<string> {
  return testKeys.sign(identity, "products");
}

const customer = () => sign({ userId: "user-1", scopes: new Set(["customer"]) });
const admin = () => sign({ userId: "admin-1", scopes: new Set(["admin", "catalog:write"]) });
/** Orders, the one peer allowed to change stock, signing as itself. */
const peer = () => testKeys.sign({}, "products", "orders");

describe("products subgraph", () => {
  let service: ProductsService;
  let url: string;

  async function gql<T>(query: string, variables: Record<string, unknown> = {}, token?: string) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers[IDENTITY_HEADER] = token;
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as GraphQLResult<T>;
  }

  const stockOf = async (id: string) =>
    (await service.db.get<{ stock: number }>(sql`SELECT stock FROM products WHERE id = ${id}`))?.stock;

  before(async () => {
    service = await createProductsService({
      ...testDatabase(),
      identityKeys: testKeys.forService("products"),
      logger: pino({ level: "silent" }),
    });
    url = await service.listen(0);
  });
  after(() => service.close());

  test("seeds at least 60 products with stable ids and plausible stock, idempotently", async () => {
    assert.ok(SEED_PRODUCT_COUNT >= 60);
    const rows = await service.db.all<{ id: string; stock: number; currency: string; price_cents: number }>(
      sql`SELECT id, stock, currency, price_cents FROM products ORDER BY position`,
    );
    assert.equal(rows.length, SEED_PRODUCT_COUNT);
    assert.equal(rows[0]?.id, "prod-001");
    for (const row of rows) {
      assert.ok(row.stock >= 20 && row.stock <= 200, `${row.id} stock ${row.stock}`);
      assert.equal(row.currency, "USD");
      assert.ok(Number.isInteger(row.price_cents) && row.price_cents > 0);
    }
    assert.equal(await seedProducts(service.db), 0, "a second seed inserts nothing");
  });

  test("product(id) returns the product, and null for an unknown id", async () => {
    const res = await gql<{ a: { id: string; priceCents: number; currency: string } | null; b: unknown }>(
      `{ a: product(id: "prod-002") { id priceCents currency } b: product(id: "nope") { id } }`,
    );
    assert.equal(res.errors, undefined);
    assert.equal(res.data?.a?.id, "prod-002");
    assert.equal(res.data?.a?.currency, "USD");
    assert.equal(res.data?.b, null);
  });

  test("pagination walks the whole catalogue in order, each product exactly once", async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let total = -1;
    for (let page = 0; page < 100; page++) {
      const res: GraphQLResult<{
        products: {
          nodes: { id: string }[];
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
          totalCount: number;
        };
      }> = await gql(
        `query ($after: String) { products(first: 7, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } totalCount } }`,
        { after },
      );
      assert.equal(res.errors, undefined);
      const conn = res.data!.products;
      total = conn.totalCount;
      seen.push(...conn.nodes.map((n) => n.id));
      if (!conn.pageInfo.hasNextPage) break;
      assert.ok(conn.pageInfo.endCursor);
      after = conn.pageInfo.endCursor;
    }
    assert.equal(total, SEED_PRODUCT_COUNT);
    assert.equal(seen.length, total);
    assert.equal(new Set(seen).size, total);
    assert.deepEqual(seen, [...seen].sort(), "catalogue order (ids follow positions in the seed)");
  });

  test("products defaults to 20 per page", async () => {
    const res = await gql<{ products: { nodes: unknown[]; pageInfo: { hasNextPage: boolean } } }>(
      "{ products { nodes { id } pageInfo { hasNextPage } } }",
    );
    assert.equal(res.data?.products.nodes.length, 20);
    assert.equal(res.data?.products.pageInfo.hasNextPage, true);
  });

  for (const first of [0, 101, -5]) {
    test(`products(first: ${first}) is BAD_USER_INPUT on field first`, async () => {
      const res = await gql("query ($first: Int) { products(first: $first) { totalCount } }", { first });
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(res.errors?.[0]?.extensions?.field, "first");
    });
  }

  for (const after of ["not a cursor!", "bm9wZQ", Buffer.from('{"p":"x"}').toString("base64url")]) {
    test(`a bad cursor (${after}) is BAD_USER_INPUT on field after`, async () => {
      const res = await gql("query ($after: String) { products(after: $after) { totalCount } }", { after });
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(res.errors?.[0]?.extensions?.field, "after");
    });
  }

  test("_entities with 10 product references costs exactly one query", async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `prod-${String(i + 11).padStart(3, "0")}`);
    const before = service.db.queryCount;
    const res = await gql<{ _entities: ({ id: string; name: string; stock: number } | null)[] }>(
      "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name stock } } }",
      { r: [...ids.map((id) => ({ __typename: "Product", id })), { __typename: "Product", id: "missing" }] },
    );
    assert.equal(service.db.queryCount - before, 1);
    assert.equal(res.errors, undefined);
    assert.deepEqual(
      res.data?._entities.map((e) => e?.id ?? null),
      [...ids, null],
    );
  });

  describe("reserveStock and releaseStock", () => {
    const RESERVE = `mutation ($input: ReserveStockInput!) {
      reserveStock(input: $input) { orderId items { productId quantity unitPriceCents currency } }
    }`;
    const RELEASE = "mutation ($id: ID!) { releaseStock(orderId: $id) }";

    test("refuses customers and anonymous callers with FORBIDDEN", async () => {
      const input = { orderId: "o-forbidden", items: [{ productId: "prod-001", quantity: 1 }] };
      const stock = await stockOf("prod-001");
      for (const token of [await customer(), undefined]) {
        const res = await gql(RESERVE, { input }, token);
        assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
      }
      const rel = await gql(RELEASE, { id: "o-forbidden" }, await customer());
      assert.equal(rel.errors?.[0]?.extensions?.code, "FORBIDDEN");
      assert.equal(await stockOf("prod-001"), stock);
    });

    test("reserves at catalogue prices, is idempotent per order, and releases once", async () => {
      const price = await service.db.get<{ price_cents: number }>(
        sql`SELECT price_cents FROM products WHERE id = 'prod-003'`,
      );
      const s3 = (await stockOf("prod-003"))!;
      const s4 = (await stockOf("prod-004"))!;
      const input = {
        orderId: "o-1",
        items: [
          { productId: "prod-003", quantity: 2 },
          { productId: "prod-004", quantity: 3 },
        ],
      };
      const res = await gql<{ reserveStock: { items: { productId: string; unitPriceCents: number }[] } }>(
        RESERVE,
        { input },
        await peer(),
      );
      assert.equal(res.errors, undefined);
      assert.equal(res.data?.reserveStock.items[0]?.unitPriceCents, price?.price_cents);
      assert.equal(await stockOf("prod-003"), s3 - 2);
      assert.equal(await stockOf("prod-004"), s4 - 3);

      const again = await gql(RESERVE, { input }, await peer());
      assert.deepEqual(again.data, res.data);
      assert.equal(await stockOf("prod-003"), s3 - 2, "a retry holds the stock once");

      const released = await gql<{ releaseStock: boolean }>(RELEASE, { id: "o-1" }, await peer());
      assert.equal(released.data?.releaseStock, true);
      assert.equal(await stockOf("prod-003"), s3);
      assert.equal(await stockOf("prod-004"), s4);
      const twice = await gql<{ releaseStock: boolean }>(RELEASE, { id: "o-1" }, await peer());
      assert.equal(twice.data?.releaseStock, false);
      assert.equal(await stockOf("prod-003"), s3);
      const reuse = await gql(RESERVE, { input }, await peer());
      assert.equal(reuse.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", "a released order id is spent");
      assert.equal(await stockOf("prod-003"), s3);
      const unknown = await gql<{ releaseStock: boolean }>(RELEASE, { id: "never-reserved" }, await peer());
      assert.equal(unknown.data?.releaseStock, false);
    });

    test("an unknown product rolls back every item", async () => {
      const s5 = await stockOf("prod-005");
      const res = await gql(
        RESERVE,
        {
          input: {
            orderId: "o-unknown",
            items: [
              { productId: "prod-005", quantity: 1 },
              { productId: "prod-999", quantity: 1 },
            ],
          },
        },
        await peer(),
      );
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(res.errors?.[0]?.extensions?.productId, "prod-999");
      assert.equal(await stockOf("prod-005"), s5);
      assert.equal(await service.db.get(sql`SELECT 1 FROM reservations WHERE order_id = 'o-unknown'`), undefined);
    });

    test("not enough stock is INSUFFICIENT_STOCK with the numbers, and rolls back", async () => {
      await service.db.run(sql`UPDATE products SET stock = 2 WHERE id = 'prod-007'`);
      const s6 = await stockOf("prod-006");
      const res = await gql(
        RESERVE,
        {
          input: {
            orderId: "o-short",
            items: [
              { productId: "prod-006", quantity: 1 },
              { productId: "prod-007", quantity: 3 },
            ],
          },
        },
        await peer(),
      );
      const ext = res.errors?.[0]?.extensions;
      assert.equal(ext?.code, "INSUFFICIENT_STOCK");
      assert.equal(ext?.productId, "prod-007");
      assert.equal(ext?.requested, 3);
      assert.equal(ext?.available, 2);
      assert.equal(await stockOf("prod-006"), s6);
      assert.equal(await stockOf("prod-007"), 2);
    });

    const invalid: [string, { productId: string; quantity: number }[], string][] = [
      ["no items", [], "items"],
      ["51 items", Array.from({ length: 51 }, (_, i) => ({ productId: `p${i}`, quantity: 1 })), "items"],
      ["quantity 0", [{ productId: "prod-001", quantity: 0 }], "items[0].quantity"],
      ["quantity 1001", [{ productId: "prod-001", quantity: 1001 }], "items[0].quantity"],
      [
        "a duplicate product",
        [
          { productId: "prod-001", quantity: 1 },
          { productId: "prod-001", quantity: 1 },
        ],
        "items[1].productId",
      ],
    ];
    for (const [name, items, field] of invalid) {
      test(`${name} is BAD_USER_INPUT on ${field}`, async () => {
        const stock = await stockOf("prod-001");
        const res = await gql(RESERVE, { input: { orderId: `o-${name}`, items } }, await peer());
        assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
        assert.equal(res.errors?.[0]?.extensions?.field, field);
        assert.equal(await stockOf("prod-001"), stock);
      });
    }
  });

  describe("reservations that no order claims, and stock set while some are held", () => {
    // The repository over the service's own store, on a clock the test moves.
    let clock: number;
    let repo: SqlProductRepository;
    before(() => {
      clock = Date.parse("2030-01-01T00:00:00Z");
      repo = new SqlProductRepository(service.db, { reservationTtlMs: 60_000, now: () => new Date(clock) });
    });
    const setStock = (id: string, stock: number) =>
      service.db.run(sql`UPDATE products SET stock = ${stock} WHERE id = ${id}`);
    const reasonOf = (error: unknown) => (error as { extensions?: { reason?: unknown } }).extensions?.reason;

    test("an unclaimed reservation expires and its stock comes back exactly once", async () => {
      await setStock("prod-020", 10);
      await repo.reserve("exp-1", [{ productId: "prod-020", quantity: 4 }]);
      assert.equal(await stockOf("prod-020"), 6);
      assert.equal(await repo.expireDue(), 0, "nothing is due before the TTL");
      clock += 60_001;
      // A sweep, a release and a claim all at once: one of them gives the stock back, once.
      const [swept, released, claimed] = await Promise.allSettled([
        repo.expireDue(),
        repo.release("exp-1"),
        repo.claim("exp-1"),
      ]);
      assert.equal(await stockOf("prod-020"), 10);
      assert.equal(
        (swept.status === "fulfilled" ? swept.value : 0) + (released.status === "fulfilled" && released.value ? 1 : 0),
        1,
      );
      assert.equal(claimed.status, "rejected");
      assert.equal(reasonOf((claimed as PromiseRejectedResult).reason), "RESERVATION_EXPIRED");
      assert.equal(await repo.expireDue(), 0);
      assert.equal(await stockOf("prod-020"), 10);
      // The order id is spent: reserving it again holds nothing.
      await assert.rejects(repo.reserve("exp-1", [{ productId: "prod-020", quantity: 1 }]));
      assert.equal(await stockOf("prod-020"), 10);
    });

    test("a claimed reservation never expires, and claiming twice is claiming once", async () => {
      await setStock("prod-021", 10);
      await repo.reserve("exp-2", [{ productId: "prod-021", quantity: 3 }]);
      const claimed = await repo.claim("exp-2");
      assert.deepEqual(
        claimed.items.map((i) => i.quantity),
        [3],
      );
      await repo.claim("exp-2");
      clock += 10 * 60_000;
      assert.equal(await repo.expireDue(), 0);
      assert.equal(await repo.release("exp-2"), false, "sold stock is not released");
      assert.equal(await stockOf("prod-021"), 7);
      await assert.rejects(repo.claim("never-reserved"), (error: { extensions?: { code?: string } }) => {
        assert.equal(error.extensions?.code, "NOT_FOUND");
        return true;
      });
    });

    test("a claim past the expiry fails with RESERVATION_EXPIRED and the stock is back", async () => {
      await setStock("prod-022", 5);
      await repo.reserve("exp-3", [{ productId: "prod-022", quantity: 5 }]);
      clock += 60_000;
      await assert.rejects(repo.claim("exp-3"), (error) => {
        assert.equal(reasonOf(error), "RESERVATION_EXPIRED");
        return true;
      });
      assert.equal(await stockOf("prod-022"), 5);
      assert.equal(await repo.expireDue(), 0, "the late claim already gave it back");
      assert.equal(await stockOf("prod-022"), 5);
    });

    test("a short product takes back expired holds before refusing", async () => {
      await setStock("prod-023", 2);
      await repo.reserve("exp-4", [{ productId: "prod-023", quantity: 2 }]);
      clock += 60_000;
      const reservation = await repo.reserve("exp-5", [{ productId: "prod-023", quantity: 2 }]);
      assert.equal(reservation.items[0]?.quantity, 2);
      assert.equal(await stockOf("prod-023"), 0);
      assert.equal(await repo.release("exp-5"), true);
      assert.equal(await stockOf("prod-023"), 2);
    });

    test("stock set while reservations are held counts them once: release, expiry and claim all end right", async () => {
      await setStock("prod-024", 20);
      await repo.reserve("upd-release", [{ productId: "prod-024", quantity: 2 }]);
      await repo.reserve("upd-expire", [{ productId: "prod-024", quantity: 3 }]);
      await repo.reserve("upd-claim", [{ productId: "prod-024", quantity: 4 }]);
      assert.equal(await stockOf("prod-024"), 11);
      // The admin counts 50 on hand, the 9 units in carts included: 41 can still be ordered.
      const updated = await gql<{ updateProduct: { stock: number } }>(
        `mutation { updateProduct(id: "prod-024", input: { stock: 50 }) { stock } }`,
        {},
        await admin(),
      );
      assert.equal(updated.errors, undefined, JSON.stringify(updated.errors));
      assert.equal(updated.data?.updateProduct.stock, 41);
      await repo.claim("upd-claim");
      assert.equal(await repo.release("upd-release"), true);
      clock += 60_000;
      assert.equal(await repo.expireDue(), 1);
      // 50 on hand, 4 of them sold to the claimed order.
      assert.equal(await stockOf("prod-024"), 46);
    });

    test("stock cannot be set below the held units", async () => {
      await setStock("prod-025", 10);
      await repo.reserve("upd-low", [{ productId: "prod-025", quantity: 6 }]);
      const res = await gql(
        `mutation { updateProduct(id: "prod-025", input: { stock: 5 }) { stock } }`,
        {},
        await admin(),
      );
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(res.errors?.[0]?.extensions?.held, 6);
      assert.equal(await stockOf("prod-025"), 4);
      await repo.release("upd-low");
      assert.equal(await stockOf("prod-025"), 10);
    });
  });
});
