import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { sql } from "kysely";
import { openDatabase } from "../../subgraphs/kit/database.ts";
import { type OrdersTables, migrations as orderMigrations } from "../../subgraphs/orders/migrations.ts";
import { SqlOrderRepository } from "../../subgraphs/orders/repository.ts";
import { type PaymentsTables, migrations as paymentMigrations } from "../../subgraphs/payments/migrations.ts";
import { type NewPayment, SqlPaymentRepository } from "../../subgraphs/payments/repository.ts";
import { type ProductsTables, migrations as productMigrations } from "../../subgraphs/products/migrations.ts";
import { SqlProductRepository } from "../../subgraphs/products/repository.ts";
import { seedProducts } from "../../subgraphs/products/seed.ts";
import type { Database, Migration } from "../../subgraphs/shared/db.ts";
import { type UsersTables, migrations as userMigrations } from "../../subgraphs/users/migrations.ts";
import { SqlUsersRepository } from "../../subgraphs/users/repository.ts";
import { engine, testDatabase } from "../helpers/database.ts";

/**
 * The repositories straight on the engine under test (SQLite, or PostgreSQL when DATABASE_URL is
 * set). On PostgreSQL every store is used through two pools, as two service instances sharing one
 * database would, so the guarantees are proved across connections and not only inside one.
 */
describe(`data layer on ${engine}`, () => {
  const dir = mkdtempSync(join(tmpdir(), "data-layer-"));
  const opened: Database<unknown>[] = [];
  let stores = 0;

  /** Two handles on one fresh store (a file for SQLite, one schema for PostgreSQL). */
  async function pair<DB>(service: string, migrations: readonly Migration[]): Promise<[Database<DB>, Database<DB>]> {
    const options = testDatabase(join(dir, `${service}-${++stores}.db`));
    const open = () => openDatabase<DB>(service, options, migrations);
    // Both at once: the second waits for the first's migration, and neither fails.
    const [a, b] = await Promise.all([open(), open()]);
    opened.push(a as Database<unknown>, b as Database<unknown>);
    // better-sqlite3 waits for a lock synchronously, so two handles in one thread would stall each
    // other: instances sharing a SQLite file are separate processes. Here SQLite's second instance
    // is the same handle, whose queue (one writer at a time) is what the guarantees rest on.
    return [a, engine === "postgres" ? b : a];
  }

  after(async () => {
    await Promise.all(opened.map((db) => db.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  test("migrations run once per store, even when two instances start together", async () => {
    const [a, b] = await pair<UsersTables>("users", userMigrations);
    assert.deepEqual(await a.migrate(userMigrations), [], "nothing left to apply");
    const rows = await b.all<{ version: number }>(sql`SELECT version FROM schema_migrations ORDER BY version`);
    assert.deepEqual(
      rows.map((row) => row.version),
      userMigrations.map((m) => m.version),
    );
    assert.equal(a.engine, engine);
    if (engine === "postgres") assert.ok(a.schema?.endsWith("users"), `schema ${a.schema}`);
  });

  test("the query counter counts statements, not transaction control", async () => {
    const [db] = await pair<ProductsTables>("products", productMigrations);
    await seedProducts(db);
    const repository = new SqlProductRepository(db);
    const before = db.queryCount;
    const found = await repository.findByIds(["prod-001", "prod-002", "prod-003", "prod-004", "prod-005"]);
    assert.equal(found.length, 5);
    assert.equal(db.queryCount - before, 1, "five products, one query");
    const beforeTx = db.queryCount;
    await db.transaction(async (trx) => {
      await sql`SELECT 1`.execute(trx);
    });
    assert.equal(db.queryCount - beforeTx, 1, "BEGIN and COMMIT are not counted");
  });

  test("20 concurrent reservations of 1 for a stock of 5: exactly 5, stock 0", async () => {
    const [a, b] = await pair<ProductsTables>("products", productMigrations);
    await seedProducts(a);
    await a.run(sql`UPDATE products SET stock = 5 WHERE id = 'prod-010'`);
    const repos = [new SqlProductRepository(a), new SqlProductRepository(b)];
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        repos[i % 2]!.reserve(`race-${i}`, [{ productId: "prod-010", quantity: 1 }]),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(won.length, 5);
    for (const r of lost) assert.equal(r.reason.extensions?.code, "INSUFFICIENT_STOCK", String(r.reason));
    assert.equal((await b.get<{ stock: number }>(sql`SELECT stock FROM products WHERE id = 'prod-010'`))?.stock, 0);
    const held = await a.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM reservations WHERE status = 'HELD'`);
    assert.equal(held?.n, 5, "a refused reservation leaves no row behind");
  });

  test("one order reserved 10 times at once holds its stock once; orders crossing products never deadlock", async () => {
    const [a, b] = await pair<ProductsTables>("products", productMigrations);
    await seedProducts(a);
    const repos = [new SqlProductRepository(a), new SqlProductRepository(b)];
    const stock = async (id: string) =>
      (await a.get<{ stock: number }>(sql`SELECT stock FROM products WHERE id = ${id}`))!.stock;
    const s1 = await stock("prod-001");
    const same = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        repos[i % 2]!.reserve("same-order", [{ productId: "prod-001", quantity: 2 }]),
      ),
    );
    for (const r of same) assert.deepEqual(r.items, same[0]!.items);
    assert.equal(await stock("prod-001"), s1 - 2);

    // Opposite line orders: locked in one global order, they cannot wait on each other in a cycle.
    const s2 = await stock("prod-002");
    const s3 = await stock("prod-003");
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        repos[i % 2]!.reserve(
          `cross-${i}`,
          i % 2
            ? [
                { productId: "prod-002", quantity: 1 },
                { productId: "prod-003", quantity: 1 },
              ]
            : [
                { productId: "prod-003", quantity: 1 },
                { productId: "prod-002", quantity: 1 },
              ],
        ),
      ),
    );
    assert.equal(await stock("prod-002"), s2 - 10);
    assert.equal(await stock("prod-003"), s3 - 10);
    const crossed = await repos[0]!.reserve("cross-1", []);
    assert.deepEqual(
      crossed.items.map((item) => item.productId),
      ["prod-002", "prod-003"],
      "items come back in the order they were written",
    );

    // Releasing at once from both instances gives the stock back once.
    const released = await Promise.all([repos[0]!.release("same-order"), repos[1]!.release("same-order")]);
    assert.deepEqual(released.sort(), [false, true]);
    assert.equal(await stock("prod-001"), s1);
  });

  test("10 concurrent claims with one idempotency key: one payment row, the same for all", async () => {
    const [a, b] = await pair<PaymentsTables>("payments", paymentMigrations);
    const repos = [new SqlPaymentRepository(a), new SqlPaymentRepository(b)];
    const payment: NewPayment = {
      userId: "u-1",
      orderId: "o-1",
      orderOwnerId: "u-1",
      idempotencyKey: "key-1",
      amountCents: 1200,
      currency: "EUR",
    };
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => repos[i % 2]!.claim(payment)));
    const ids = new Set(claims.map((c) => (c.kind === "claimed" ? c.payment.id : c.kind)));
    assert.equal(ids.size, 1, JSON.stringify(claims));
    assert.equal(claims[0]!.kind, "claimed");
    const rows = await a.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM payments WHERE idempotency_key = 'key-1'`);
    assert.equal(rows?.n, 1);

    // Ten other keys for one order at once: one is charged, the others are told it is busy.
    const others = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        repos[i % 2]!.claim({ ...payment, orderId: "o-2", idempotencyKey: `other-${i}` }),
      ),
    );
    assert.equal(others.filter((c) => c.kind === "claimed").length, 1, JSON.stringify(others));
    assert.equal(others.filter((c) => c.kind === "order-busy").length, 9);

    // Settling twice at once: the first state change wins and both read it back.
    const id = claims[0]!.kind === "claimed" ? claims[0]!.payment.id : "";
    const settled = await Promise.all([
      repos[0]!.markSucceeded(id, "ch_1"),
      repos[1]!.markFailed(id, "card_declined", null),
    ]);
    assert.equal(settled[0].status, settled[1].status);
  });

  test("an order is marked paid by exactly one payment", async () => {
    const [a, b] = await pair<OrdersTables>("orders", orderMigrations);
    const repos = [new SqlOrderRepository(a), new SqlOrderRepository(b)];
    await repos[0]!.create({
      id: "o-1",
      userId: "u-1",
      totalCents: 100,
      currency: "EUR",
      items: [{ productId: "prod-001", quantity: 1, unitPriceCents: 100, position: 0 }],
    });
    const paid = await Promise.all(Array.from({ length: 6 }, (_, i) => repos[i % 2]!.markPaid("o-1", `pay-${i}`)));
    const winners = new Set(paid.map((order) => order.paymentId));
    assert.equal(winners.size, 1, JSON.stringify(paid));
    assert.ok(paid.every((order) => order.status === "PAID"));
    await assert.rejects(repos[1]!.markPaid("o-none", "pay-x"), (error: { extensions?: { code?: string } }) => {
      assert.equal(error.extensions?.code, "NOT_FOUND");
      return true;
    });
  });

  test("one email registered 10 times at once makes one user", async () => {
    const [a, b] = await pair<UsersTables>("users", userMigrations);
    const repos = [new SqlUsersRepository(a), new SqlUsersRepository(b)];
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        repos[i % 2]!.create({ id: `u-${i}`, email: "race@example.com", name: "R", passwordHash: "x", scope: "s" }),
      ),
    );
    assert.equal(created.filter(Boolean).length, 1);
    assert.equal(await repos[1]!.count(), 1);
  });

  test("each store is its own: a second store sees none of the first one's rows", async () => {
    const [first] = await pair<UsersTables>("users", userMigrations);
    const [second] = await pair<UsersTables>("users", userMigrations);
    await new SqlUsersRepository(first).create({
      id: "solo",
      email: "solo@example.com",
      name: "S",
      passwordHash: "x",
      scope: "s",
    });
    assert.equal(await new SqlUsersRepository(second).count(), 0);
  });
});
