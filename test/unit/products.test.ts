import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { pino } from "pino";
import { IDENTITY_HEADER, type Identity } from "../../subgraphs/kit/identity.ts";
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
});
