import { randomUUID } from "node:crypto";
import { inList, type SqliteDatabase } from "../shared/db.ts";
import { domainError, ErrorCode } from "../shared/errors.ts";

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

interface ProductRow {
  id: string;
  position: number;
  name: string;
  price_cents: number;
  currency: string;
  stock: number;
}

interface ReservedItemRow {
  product_id: string;
  quantity: number;
  unit_price_cents: number;
  currency: string;
}

const PRODUCT_COLUMNS = "id, position, name, price_cents, currency, stock";

const toProduct = (row: ProductRow): ProductRecord => ({
  id: row.id,
  position: row.position,
  name: row.name,
  priceCents: row.price_cents,
  currency: row.currency,
  stock: row.stock,
});

const toReservedItem = (row: ReservedItemRow): ReservedItem => ({
  productId: row.product_id,
  quantity: row.quantity,
  unitPriceCents: row.unit_price_cents,
  currency: row.currency,
});

export class SqliteProductRepository implements ProductRepository {
  constructor(private readonly db: SqliteDatabase) {}

  async findByIds(ids: readonly string[]): Promise<ProductRecord[]> {
    if (ids.length === 0) return [];
    return this.db
      .all<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE id IN (${inList(ids.length)})`, ids)
      .map(toProduct);
  }

  async create(product: NewProduct): Promise<ProductRecord> {
    return this.db.transaction(() => {
      const { next } = this.db.get<{ next: number }>("SELECT COALESCE(MAX(position), 0) + 1 AS next FROM products")!;
      const id = `prod-${randomUUID()}`;
      const now = new Date().toISOString();
      this.db.run(
        "INSERT INTO products (id, position, name, price_cents, currency, stock, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [id, next, product.name, product.priceCents, product.currency, product.stock, now, now],
      );
      return { id, position: next, ...product };
    });
  }

  async update(id: string, patch: ProductPatch): Promise<ProductRecord | null> {
    return this.db.transaction(() => {
      this.db.run(
        `UPDATE products SET name = COALESCE(?, name), price_cents = COALESCE(?, price_cents),
           stock = COALESCE(?, stock), updated_at = ? WHERE id = ?`,
        [patch.name ?? null, patch.priceCents ?? null, patch.stock ?? null, new Date().toISOString(), id],
      );
      const row = this.db.get<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE id = ?`, [id]);
      return row ? toProduct(row) : null;
    });
  }

  async list(afterPosition: number | null, limit: number): Promise<ProductRecord[]> {
    return this.db
      .all<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE position > ? ORDER BY position LIMIT ?`, [
        afterPosition ?? Number.MIN_SAFE_INTEGER,
        limit,
      ])
      .map(toProduct);
  }

  async count(): Promise<number> {
    return this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM products")?.n ?? 0;
  }

  async reserve(orderId: string, lines: readonly ReservationLine[]): Promise<Reservation> {
    const now = new Date().toISOString();
    return this.db.transaction(() => {
      const existing = this.db.get<{ status: string }>("SELECT status FROM reservations WHERE order_id = ?", [orderId]);
      if (existing?.status === "HELD") return { orderId, items: this.itemsOf(orderId) };
      if (existing) {
        // A released order id is spent: holding stock for it again could resurrect an order that was abandoned.
        throw domainError(ErrorCode.BAD_USER_INPUT, "The reservation for this order was already released", {
          field: "orderId",
        });
      }
      this.db.run("INSERT INTO reservations (order_id, status, created_at) VALUES (?, 'HELD', ?)", [orderId, now]);
      const items = lines.map((line, index) => {
        // The guard in the WHERE clause makes check-and-take one atomic step: stock never goes negative.
        const taken = this.db.get<{ price_cents: number; currency: string }>(
          "UPDATE products SET stock = stock - ?, updated_at = ? WHERE id = ? AND stock >= ? RETURNING price_cents, currency",
          [line.quantity, now, line.productId, line.quantity],
        );
        if (!taken) throw this.refusal(line, index);
        const item: ReservedItem = {
          productId: line.productId,
          quantity: line.quantity,
          unitPriceCents: taken.price_cents,
          currency: taken.currency,
        };
        this.db.run(
          "INSERT INTO reservation_items (order_id, product_id, quantity, unit_price_cents, currency) VALUES (?, ?, ?, ?, ?)",
          [orderId, item.productId, item.quantity, item.unitPriceCents, item.currency],
        );
        return item;
      });
      return { orderId, items };
    });
  }

  async release(orderId: string): Promise<boolean> {
    const now = new Date().toISOString();
    return this.db.transaction(() => {
      const held = this.db.get<{ status: string }>("SELECT status FROM reservations WHERE order_id = ?", [orderId]);
      if (held?.status !== "HELD") return false;
      for (const item of this.itemsOf(orderId)) {
        this.db.run("UPDATE products SET stock = stock + ?, updated_at = ? WHERE id = ?", [
          item.quantity,
          now,
          item.productId,
        ]);
      }
      this.db.run("UPDATE reservations SET status = 'RELEASED' WHERE order_id = ?", [orderId]);
      return true;
    });
  }

  private itemsOf(orderId: string): ReservedItem[] {
    return this.db
      .all<ReservedItemRow>(
        "SELECT product_id, quantity, unit_price_cents, currency FROM reservation_items WHERE order_id = ? ORDER BY rowid",
        [orderId],
      )
      .map(toReservedItem);
  }

  /** Why a guarded stock update changed nothing; thrown inside the transaction so every line rolls back. */
  private refusal(line: ReservationLine, index: number): Error {
    const product = this.db.get<{ stock: number }>("SELECT stock FROM products WHERE id = ?", [line.productId]);
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
