import { randomUUID } from "node:crypto";
import type { Selectable, Transaction } from "kysely";
import type { Database } from "../shared/db.ts";
import { domainError, ErrorCode, notFound } from "../shared/errors.ts";
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
  /**
   * An order now stands behind the reservation: its stock is sold and never expires. Claiming
   * twice is the same as once. An unknown order id is NOT_FOUND; a reservation released or past its
   * expiry is BAD_USER_INPUT with `reason: "RESERVATION_EXPIRED"` (its stock is back on sale).
   */
  claim(orderId: string): Promise<Reservation>;
  /** Gives back the stock of every unclaimed reservation past its expiry, each exactly once; returns how many. */
  expireDue(): Promise<number>;
  /** Adds a product at the end of the catalogue. */
  create(product: NewProduct): Promise<ProductRecord>;
  /**
   * Changes the given fields; null when there is no such product. `stock` here is the units on
   * hand that no order has bought, those held by unclaimed reservations included: the stock on
   * sale becomes that minus the held units (BAD_USER_INPUT when fewer than are held), so a later
   * release or expiry brings it back to exactly the number set.
   */
  update(id: string, patch: ProductPatch): Promise<ProductRecord | null>;
  /** Puts an unclaimed reservation's stock back. False when there is nothing unclaimed held for the order. */
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

/** An unclaimed reservation whose time is up; ISO 8601 UTC strings compare in time order. */
const isDue = (row: { claimed_at: string | null; expires_at: string | null }, now: string) =>
  row.claimed_at === null && row.expires_at !== null && row.expires_at <= now;

/** The largest INTEGER on PostgreSQL. */
const MAX_POSITION = 2 ** 31 - 1;

export interface SqlProductRepositoryOptions {
  /** How long a reservation that no order claims holds its stock. @default 300_000 (5 minutes) */
  reservationTtlMs?: number;
  /** @default () => new Date() */
  now?: () => Date;
}

/** Why a claim came too late; the caller's stock is already back on sale. */
const expired = () =>
  domainError(ErrorCode.BAD_USER_INPUT, "The stock reservation for this order expired; place the order again", {
    field: "orderId",
    reason: "RESERVATION_EXPIRED",
  });

const byProductId = <T extends { productId: string }>(a: T, b: T) =>
  a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0;

export class SqlProductRepository implements ProductRepository {
  private readonly ttlMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly db: Database<ProductsTables>,
    options: SqlProductRepositoryOptions = {},
  ) {
    this.ttlMs = options.reservationTtlMs ?? 300_000;
    this.now = options.now ?? (() => new Date());
  }

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
    const { stock, ...rest } = patch;
    const now = this.now().toISOString();
    return this.db.transaction(async (trx) => {
      // The row lock orders this update after any reservation or release already writing the
      // product, so the held units read below are exactly those taken out of its stock.
      const current = await trx
        .selectFrom("products")
        .select("id")
        .where("id", "=", id)
        .$if(this.db.engine === "postgres", (qb) => qb.forUpdate())
        .executeTakeFirst();
      if (!current) return null;
      let available: number | undefined;
      if (stock !== undefined) {
        const held = await this.heldUnits(trx, id);
        if (stock < held) {
          throw domainError(
            ErrorCode.BAD_USER_INPUT,
            `Stock cannot be set below the ${held} units held for orders being placed`,
            { field: "stock", held },
          );
        }
        available = stock - held;
      }
      const row = await trx
        .updateTable("products")
        .set({
          ...(rest.name !== undefined && { name: rest.name }),
          ...(rest.priceCents !== undefined && { price_cents: rest.priceCents }),
          ...(available !== undefined && { stock: available }),
          updated_at: now,
        })
        .where("id", "=", id)
        .returning(PRODUCT_COLUMNS)
        .executeTakeFirstOrThrow();
      return toProduct(row);
    });
  }

  /** Units of the product held by reservations no order has claimed (expired ones not yet swept included). */
  private async heldUnits(trx: Trx, productId: string): Promise<number> {
    const row = await trx
      .selectFrom("reservation_items as i")
      .innerJoin("reservations as r", "r.order_id", "i.order_id")
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("i.quantity"), eb.lit(0)).as("held"))
      .where("i.product_id", "=", productId)
      .where("r.status", "=", "HELD")
      .where("r.claimed_at", "is", null)
      .executeTakeFirst();
    return Number(row?.held ?? 0);
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
    try {
      return await this.reserveOnce(orderId, lines);
    } catch (error) {
      // Stock held by reservations past their expiry is on sale again: give it back now rather
      // than refuse until the next sweep.
      const code = (error as { extensions?: { code?: unknown } }).extensions?.code;
      if (code === ErrorCode.INSUFFICIENT_STOCK && (await this.expireDue()) > 0)
        return this.reserveOnce(orderId, lines);
      throw error;
    }
  }

  private async reserveOnce(orderId: string, lines: readonly ReservationLine[]): Promise<Reservation> {
    const at = this.now();
    const now = at.toISOString();
    const expiresAt = new Date(at.getTime() + this.ttlMs).toISOString();
    const outcome = await this.db.transaction(async (trx): Promise<Reservation | "expired"> => {
      // The primary key decides between concurrent reservations for one order: on PostgreSQL the
      // second waits for the first to commit, inserts nothing, and then reads what the first held.
      const inserted = await trx
        .insertInto("reservations")
        .values({ order_id: orderId, status: "HELD", created_at: now, expires_at: expiresAt, claimed_at: null })
        .onConflict((oc) => oc.column("order_id").doNothing())
        .returning("order_id")
        .executeTakeFirst();
      if (!inserted) {
        const existing = await trx
          .selectFrom("reservations")
          .select(["status", "claimed_at", "expires_at"])
          .where("order_id", "=", orderId)
          .executeTakeFirstOrThrow();
        if (existing.status === "HELD" && isDue(existing, now)) {
          await this.giveBack(trx, orderId, now);
          return "expired";
        }
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
      byProduct.sort((a, b) => byProductId(a.line, b.line));
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
    // Thrown after the commit: the expired reservation's stock must come back even though this call fails.
    if (outcome === "expired") throw expired();
    return outcome;
  }

  async claim(orderId: string): Promise<Reservation> {
    const now = this.now().toISOString();
    const outcome = await this.db.transaction(async (trx): Promise<Reservation | "expired" | "missing"> => {
      const row = await trx
        .selectFrom("reservations")
        .select(["status", "claimed_at", "expires_at"])
        .where("order_id", "=", orderId)
        .$if(this.db.engine === "postgres", (qb) => qb.forUpdate())
        .executeTakeFirst();
      if (!row) return "missing";
      if (row.status === "RELEASED") return "expired";
      if (isDue(row, now)) {
        await this.giveBack(trx, orderId, now);
        return "expired";
      }
      if (row.claimed_at === null) {
        await trx
          .updateTable("reservations")
          .set({ claimed_at: now, expires_at: null })
          .where("order_id", "=", orderId)
          .where("status", "=", "HELD")
          .execute();
      }
      return { orderId, items: await this.itemsOf(trx, orderId) };
    });
    if (outcome === "missing") throw notFound(`No stock is reserved for order ${orderId}`);
    if (outcome === "expired") throw expired();
    return outcome;
  }

  async expireDue(): Promise<number> {
    const now = this.now().toISOString();
    const due = await this.db.kysely
      .selectFrom("reservations")
      .select("order_id")
      .where("status", "=", "HELD")
      .where("claimed_at", "is", null)
      .where("expires_at", "<=", now)
      .orderBy("expires_at")
      .limit(500)
      .execute();
    let expiredCount = 0;
    for (const { order_id } of due) {
      // Each in its own transaction, guarded again inside: a claim or another instance's sweep
      // that got there first wins, and the stock comes back once.
      if (await this.db.transaction((trx) => this.giveBack(trx, order_id, now, { dueOnly: true }))) expiredCount++;
    }
    return expiredCount;
  }

  async release(orderId: string): Promise<boolean> {
    const now = this.now().toISOString();
    return this.db.transaction((trx) => this.giveBack(trx, orderId, now));
  }

  /**
   * HELD and unclaimed becomes RELEASED and the units go back on sale. The guarded status flip
   * decides: of two concurrent attempts (release, expiry, another instance's sweep) only one
   * sees HELD and gives stock back.
   */
  private async giveBack(
    trx: Trx,
    orderId: string,
    now: string,
    options: { dueOnly?: boolean } = {},
  ): Promise<boolean> {
    const released = await trx
      .updateTable("reservations")
      .set({ status: "RELEASED", expires_at: null })
      .where("order_id", "=", orderId)
      .where("status", "=", "HELD")
      .where("claimed_at", "is", null)
      .$if(options.dueOnly === true, (qb) => qb.where("expires_at", "<=", now))
      .returning("order_id")
      .executeTakeFirst();
    if (!released) return false;
    const items = await this.itemsOf(trx, orderId);
    items.sort(byProductId);
    for (const item of items) {
      await trx
        .updateTable("products")
        .set((eb) => ({ stock: eb("stock", "+", item.quantity), updated_at: now }))
        .where("id", "=", item.productId)
        .execute();
    }
    return true;
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
