import { inList, type SqliteDatabase } from "../shared/db.ts";
import { badInput, notFound } from "../shared/errors.ts";

export type OrderStatus = "PENDING" | "PAID" | "CANCELLED";

export interface OrderRecord {
  id: string;
  userId: string;
  status: OrderStatus;
  totalCents: number;
  currency: string;
  paymentId: string | null;
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
}

export interface OrderItemRecord {
  orderId: string;
  productId: string;
  quantity: number;
  unitPriceCents: number;
  /** The line's place in the order as the customer wrote it. */
  position: number;
}

export interface NewOrder {
  id: string;
  userId: string;
  totalCents: number;
  currency: string;
  items: readonly Omit<OrderItemRecord, "orderId">[];
}

/**
 * What the orders resolvers need from storage. Async so that a networked store (PostgreSQL)
 * can implement it without touching the resolvers.
 */
export interface OrderRepository {
  findByIds(ids: readonly string[]): Promise<OrderRecord[]>;
  /** Every order of these users, newest first. */
  findByUserIds(userIds: readonly string[]): Promise<OrderRecord[]>;
  /** The items of these orders, each order's lines in their original order. */
  itemsOf(orderIds: readonly string[]): Promise<OrderItemRecord[]>;
  /** Writes a PENDING order and its items, all or nothing. */
  create(order: NewOrder): Promise<OrderRecord>;
  /**
   * PENDING becomes PAID by `paymentId`; an order already PAID is returned as it is. Unknown is
   * NOT_FOUND, CANCELLED is BAD_USER_INPUT.
   */
  markPaid(orderId: string, paymentId: string): Promise<OrderRecord>;
}

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  total_cents: number;
  currency: string;
  payment_id: string | null;
  created_at: string;
  updated_at: string;
}

interface OrderItemRow {
  order_id: string;
  product_id: string;
  quantity: number;
  unit_price_cents: number;
  position: number;
}

const ORDER_COLUMNS = "id, user_id, status, total_cents, currency, payment_id, created_at, updated_at";

const toOrder = (row: OrderRow): OrderRecord => ({
  id: row.id,
  userId: row.user_id,
  status: row.status,
  totalCents: row.total_cents,
  currency: row.currency,
  paymentId: row.payment_id,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toItem = (row: OrderItemRow): OrderItemRecord => ({
  orderId: row.order_id,
  productId: row.product_id,
  quantity: row.quantity,
  unitPriceCents: row.unit_price_cents,
  position: row.position,
});

export class SqliteOrderRepository implements OrderRepository {
  constructor(private readonly db: SqliteDatabase) {}

  async findByIds(ids: readonly string[]): Promise<OrderRecord[]> {
    if (ids.length === 0) return [];
    return this.db
      .all<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id IN (${inList(ids.length)})`, ids)
      .map(toOrder);
  }

  async findByUserIds(userIds: readonly string[]): Promise<OrderRecord[]> {
    if (userIds.length === 0) return [];
    // rowid breaks ties between orders placed in the same millisecond: later insert, newer order.
    return this.db
      .all<OrderRow>(
        `SELECT ${ORDER_COLUMNS} FROM orders WHERE user_id IN (${inList(userIds.length)}) ORDER BY created_at DESC, rowid DESC`,
        userIds,
      )
      .map(toOrder);
  }

  async itemsOf(orderIds: readonly string[]): Promise<OrderItemRecord[]> {
    if (orderIds.length === 0) return [];
    return this.db
      .all<OrderItemRow>(
        `SELECT order_id, product_id, quantity, unit_price_cents, position FROM order_items
         WHERE order_id IN (${inList(orderIds.length)}) ORDER BY order_id, position`,
        orderIds,
      )
      .map(toItem);
  }

  async create(order: NewOrder): Promise<OrderRecord> {
    const now = new Date().toISOString();
    return this.db.transaction(() => {
      this.db.run(
        `INSERT INTO orders (id, user_id, status, total_cents, currency, payment_id, created_at, updated_at)
         VALUES (?, ?, 'PENDING', ?, ?, NULL, ?, ?)`,
        [order.id, order.userId, order.totalCents, order.currency, now, now],
      );
      for (const item of order.items) {
        this.db.run(
          "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, position) VALUES (?, ?, ?, ?, ?)",
          [order.id, item.productId, item.quantity, item.unitPriceCents, item.position],
        );
      }
      return {
        id: order.id,
        userId: order.userId,
        status: "PENDING" as const,
        totalCents: order.totalCents,
        currency: order.currency,
        paymentId: null,
        createdAt: now,
        updatedAt: now,
      };
    });
  }

  async markPaid(orderId: string, paymentId: string): Promise<OrderRecord> {
    const now = new Date().toISOString();
    return this.db.transaction(() => {
      const row = this.db.get<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = ?`, [orderId]);
      if (!row) throw notFound(`Order ${orderId} not found`);
      if (row.status === "PAID") return toOrder(row);
      if (row.status !== "PENDING") throw badInput(`Order ${orderId} is ${row.status} and cannot be paid`, "orderId");
      this.db.run("UPDATE orders SET status = 'PAID', payment_id = ?, updated_at = ? WHERE id = ?", [
        paymentId,
        now,
        orderId,
      ]);
      return { ...toOrder(row), status: "PAID" as const, paymentId, updatedAt: now };
    });
  }
}
