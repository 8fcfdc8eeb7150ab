import { randomUUID } from "node:crypto";
import type { Selectable, Transaction } from "kysely";
import type { Database } from "../shared/db.ts";
import { domainError, ErrorCode } from "../shared/errors.ts";
import type { ProductsTables } from "./migrations.ts";

export interface ProductRecord {
  id: string;
  /** Place in the catalogue; pagination cursors point at it. */
  position: number;
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
}

export interface NewProduct {
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
}

export type ProductPatch = Partial<Pick<ProductRecord, "name" | "priceCents" | "stock">>;

export interface ReservationLine {
  productId: string;
  quantity: number;
}

export interface ReservedItem extends ReservationLine {
  unitPriceCents: number;
  currency: string;
}

export interface Reservation {
  orderId: string;
  items: ReservedItem[];
}

/**
 * What the products resolvers need from storage. Async so that a networked store (PostgreSQL)
 * can implement it without touching the resolvers.
 */
export interface ProductRepository {
  /** The products among `ids` that exist, in no particular order. */
  findByIds(ids: readonly string[]): Promise<ProductRecord[]>;
  /** Up to `limit` products after catalogue position `afterPosition` (all when null), in catalogue order. */
  list(afterPosition: number | null, limit: number): Promise<ProductRecord[]>;
  count(): Promise<number>;
  /**
   * Takes the stock for every line, or for none: an unknown product is BAD_USER_INPUT and a short
   * one INSUFFICIENT_STOCK. Reserving again for an order that already holds stock returns the
   * existing reservation.
   */
  reserve(orderId: string, lines: readonly ReservationLine[]): Promise<Reservation>;
  /** Adds a product at the end of the catalogue. */
  create(product: NewProduct): Promise<ProductRecord>;
  /** Changes the given fields; null when there is no such product. */
  update(id: string, patch: ProductPatch): Promise<ProductRecord | null>;
  /** Puts a held reservation's stock back. False when there is nothing held for the order. */
  release(orderId: string): Promise<boolean>;
}

type ProductRow = Selectable<ProductsTables["products"]>;

const PRODUCT_COLUMNS = ["id", "position", "name", "price_cents", "currency", "stock"] as const;

const toProduct = (row: Pick<ProductRow, (typeof PRODUCT_COLUMNS)[number]>): ProductRecord => ({
  id: row.id,
  position: row.position,
  name: row.name,
  priceCents: row.price_cents,
  currency: row.currency,
  stock: row.stock,
});

type Trx = Transaction<ProductsTables>;

/** The largest INTEGER on PostgreSQL. */
const MAX_POSITION = 2 ** 31 - 1;

export class SqlProductRepository implements ProductRepository {
  constructor(private readonly db: Database<ProductsTables>) {}

  async findByIds(ids: readonly string[]): Promise<ProductRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.kysely.selectFrom("products").select(PRODUCT_COLUMNS).where("id", "in", ids).execute();
    return rows.map(toProduct);
  }

  async create(product: NewProduct): Promise<ProductRecord> {
    return this.db.transaction(async (trx) => {
      // Positions are unique: concurrent creates on PostgreSQL would otherwise read the same MAX.
      await this.db.lock(trx, "products.position");
      const { next } = await trx
        .selectFrom("products")
        .select((eb) => eb.fn.coalesce(eb.fn.max("position"), eb.lit(0)).as("next"))
        .executeTakeFirstOrThrow();
      const position = Number(next) + 1;
      const id = `prod-${randomUUID()}`;
      const now = new Date().toISOString();
      await trx
        .insertInto("products")
        .values({
          id,
          position,
          name: product.name,
          price_cents: product.priceCents,
          currency: product.currency,
          stock: product.stock,
          created_at: now,
          updated_at: now,
        })
        .execute();
      return { id, position, ...product };
    });
  }

  async update(id: string, patch: ProductPatch): Promise<ProductRecord | null> {
    const row = await this.db.kysely
      .updateTable("products")
      .set({
        ...(patch.name !== undefined && { name: patch.name }),
        ...(patch.priceCents !== undefined && { price_cents: patch.priceCents }),
        ...(patch.stock !== undefined && { stock: patch.stock }),
        updated_at: new Date().toISOString(),
      })
      .where("id", "=", id)
      .returning(PRODUCT_COLUMNS)
      .executeTakeFirst();
    return row ? toProduct(row) : null;
  }

  async list(afterPosition: number | null, limit: number): Promise<ProductRecord[]> {
    // Positions are 32-bit on PostgreSQL: a cursor beyond the largest one is past the end, not an error.
    if (afterPosition !== null && afterPosition >= MAX_POSITION) return [];
    const rows = await this.db.kysely
      .selectFrom("products")
      .select(PRODUCT_COLUMNS)
      .$if(afterPosition !== null, (qb) => qb.where("position", ">", afterPosition!))
      .orderBy("position")
      .limit(limit)
      .execute();
    return rows.map(toProduct);
  }

  async count(): Promise<number> {
    const row = await this.db.kysely
      .selectFrom("products")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async reserve(orderId: string, lines: readonly ReservationLine[]): Promise<Reservation> {
    const now = new Date().toISOString();
    return this.db.transaction(async (trx) => {
      // The primary key decides between concurrent reservations for one order: on PostgreSQL the
      // second waits for the first to commit, inserts nothing, and then reads what the first held.
      const inserted = await trx
        .insertInto("reservations")
        .values({ order_id: orderId, status: "HELD", created_at: now })
        .onConflict((oc) => oc.column("order_id").doNothing())
        .returning("order_id")
        .executeTakeFirst();
      if (!inserted) {
        const existing = await trx
          .selectFrom("reservations")
          .select("status")
          .where("order_id", "=", orderId)
          .executeTakeFirstOrThrow();
        if (existing.status === "HELD") return { orderId, items: await this.itemsOf(trx, orderId) };
        // A released order id is spent: holding stock for it again could resurrect an order that was abandoned.
        throw domainError(ErrorCode.BAD_USER_INPUT, "The reservation for this order was already released", {
          field: "orderId",
        });
      }
      const taken = new Map<string, { price_cents: number; currency: string }>();
      // Rows are locked in one global order (by product id) so that two orders sharing products
      // never wait on each other in a cycle on PostgreSQL.
      const byProduct = lines.map((line, index) => ({ line, index }));
      byProduct.sort((a, b) =>
        a.line.productId < b.line.productId ? -1 : a.line.productId > b.line.productId ? 1 : 0,
      );
      for (const { line, index } of byProduct) {
        // The guard in the WHERE clause makes check-and-take one atomic step: stock never goes negative.
        const row = await trx
          .updateTable("products")
          .set((eb) => ({ stock: eb("stock", "-", line.quantity), updated_at: now }))
          .where("id", "=", line.productId)
          .where("stock", ">=", line.quantity)
          .returning(["price_cents", "currency"])
          .executeTakeFirst();
        if (!row) throw await this.refusal(trx, line, index);
        taken.set(line.productId, row);
      }
      const items = lines.map((line): ReservedItem => {
        const row = taken.get(line.productId)!;
        return {
          productId: line.productId,
          quantity: line.quantity,
          unitPriceCents: row.price_cents,
          currency: row.currency,
        };
      });
      await trx
        .insertInto("reservation_items")
        .values(
          items.map((item) => ({
            order_id: orderId,
            product_id: item.productId,
            quantity: item.quantity,
            unit_price_cents: item.unitPriceCents,
            currency: item.currency,
          })),
        )
        .execute();
      return { orderId, items };
    });
  }

  async release(orderId: string): Promise<boolean> {
    const now = new Date().toISOString();
    return this.db.transaction(async (trx) => {
      // The status flip is the claim: of two concurrent releases only one sees HELD and gives stock back.
      const released = await trx
        .updateTable("reservations")
        .set({ status: "RELEASED" })
        .where("order_id", "=", orderId)
        .where("status", "=", "HELD")
        .returning("order_id")
        .executeTakeFirst();
      if (!released) return false;
      const items = await this.itemsOf(trx, orderId);
      items.sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
      for (const item of items) {
        await trx
          .updateTable("products")
          .set((eb) => ({ stock: eb("stock", "+", item.quantity), updated_at: now }))
          .where("id", "=", item.productId)
          .execute();
      }
      return true;
    });
  }

  private async itemsOf(trx: Trx, orderId: string): Promise<ReservedItem[]> {
    const rows = await trx
      .selectFrom("reservation_items")
      .select(["product_id", "quantity", "unit_price_cents", "currency"])
      .where("order_id", "=", orderId)
      .orderBy("rowid")
      .execute();
    return rows.map((row) => ({
      productId: row.product_id,
      quantity: row.quantity,
      unitPriceCents: row.unit_price_cents,
      currency: row.currency,
    }));
  }

  /** Why a guarded stock update changed nothing; thrown inside the transaction so every line rolls back. */
  private async refusal(trx: Trx, line: ReservationLine, index: number): Promise<Error> {
    const product = await trx
      .selectFrom("products")
      .select("stock")
      .where("id", "=", line.productId)
      .executeTakeFirst();
    if (!product) {
      return domainError(ErrorCode.BAD_USER_INPUT, `Unknown product ${line.productId}`, {
        field: `items[${index}].productId`,
        productId: line.productId,
      });
    }
    return domainError(ErrorCode.INSUFFICIENT_STOCK, `Not enough stock for product ${line.productId}`, {
      productId: line.productId,
      requested: line.quantity,
      available: product.stock,
    });
  }
}
