import type { Selectable } from "kysely";
import type { Database } from "../shared/db.ts";
import { badInput, notFound } from "../shared/errors.ts";
import type { OrdersTables } from "./migrations.ts";

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

const ORDER_COLUMNS = [
  "id",
  "user_id",
  "status",
  "total_cents",
  "currency",
  "payment_id",
  "created_at",
  "updated_at",
] as const;

type OrderRow = Pick<Selectable<OrdersTables["orders"]>, (typeof ORDER_COLUMNS)[number]>;

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

export class SqlOrderRepository implements OrderRepository {
  constructor(private readonly db: Database<OrdersTables>) {}

  async findByIds(ids: readonly string[]): Promise<OrderRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.kysely.selectFrom("orders").select(ORDER_COLUMNS).where("id", "in", ids).execute();
    return rows.map(toOrder);
  }

  async findByUserIds(userIds: readonly string[]): Promise<OrderRecord[]> {
    if (userIds.length === 0) return [];
    // rowid breaks ties between orders placed in the same millisecond: later insert, newer order.
    const rows = await this.db.kysely
      .selectFrom("orders")
      .select(ORDER_COLUMNS)
      .where("user_id", "in", userIds)
      .orderBy("created_at", "desc")
      .orderBy("rowid", "desc")
      .execute();
    return rows.map(toOrder);
  }

  async itemsOf(orderIds: readonly string[]): Promise<OrderItemRecord[]> {
    if (orderIds.length === 0) return [];
    const rows = await this.db.kysely
      .selectFrom("order_items")
      .select(["order_id", "product_id", "quantity", "unit_price_cents", "position"])
      .where("order_id", "in", orderIds)
      .orderBy("order_id")
      .orderBy("position")
      .execute();
    return rows.map((row) => ({
      orderId: row.order_id,
      productId: row.product_id,
      quantity: row.quantity,
      unitPriceCents: row.unit_price_cents,
      position: row.position,
    }));
  }

  async create(order: NewOrder): Promise<OrderRecord> {
    const now = new Date().toISOString();
    return this.db.transaction(async (trx) => {
      await trx
        .insertInto("orders")
        .values({
          id: order.id,
          user_id: order.userId,
          status: "PENDING",
          total_cents: order.totalCents,
          currency: order.currency,
          payment_id: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      if (order.items.length > 0) {
        await trx
          .insertInto("order_items")
          .values(
            order.items.map((item) => ({
              order_id: order.id,
              product_id: item.productId,
              quantity: item.quantity,
              unit_price_cents: item.unitPriceCents,
              position: item.position,
            })),
          )
          .execute();
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
    // The guarded UPDATE is the whole decision: of two concurrent calls exactly one moves the
    // order from PENDING, on either engine, and the other reads the result below.
    const paid = await this.db.kysely
      .updateTable("orders")
      .set({ status: "PAID", payment_id: paymentId, updated_at: new Date().toISOString() })
      .where("id", "=", orderId)
      .where("status", "=", "PENDING")
      .returning(ORDER_COLUMNS)
      .executeTakeFirst();
    if (paid) return toOrder(paid);
    const row = await this.db.kysely
      .selectFrom("orders")
      .select(ORDER_COLUMNS)
      .where("id", "=", orderId)
      .executeTakeFirst();
    if (!row) throw notFound(`Order ${orderId} not found`);
    if (row.status === "PAID") return toOrder(row);
    throw badInput(`Order ${orderId} is ${row.status} and cannot be paid`, "orderId");
  }
}
