import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { Database } from "../shared/db.ts";
import type { PaymentsTables } from "./migrations.ts";

export type PaymentStatus = "PROCESSING" | "SUCCEEDED" | "FAILED";

export interface PaymentRecord {
  id: string;
  /** The caller who asked for the payment; idempotency keys are scoped to them. */
  userId: string;
  orderId: string;
  orderOwnerId: string;
  idempotencyKey: string;
  amountCents: number;
  currency: string;
  status: PaymentStatus;
  providerPaymentId: string | null;
  failureCode: string | null;
  createdAt: string;
  updatedAt: string;
}

export type NewPayment = Pick<
  PaymentRecord,
  "userId" | "orderId" | "orderOwnerId" | "idempotencyKey" | "amountCents" | "currency"
>;

/**
 * The outcome of claiming an idempotency key for an order: the caller's row (new, or the one an
 * earlier or concurrent request with the same key made), or why the order cannot be charged now.
 */
export type ClaimResult =
  | { kind: "claimed"; payment: PaymentRecord }
  /** Another payment of this order has already succeeded. */
  | { kind: "order-paid" }
  /** Another payment of this order is being charged right now. */
  | { kind: "order-busy" };

/**
 * What the payments resolvers need from storage. Async so that a networked store (PostgreSQL)
 * can implement it without touching the resolvers.
 */
export interface PaymentRepository {
  findByKey(userId: string, idempotencyKey: string): Promise<PaymentRecord | null>;
  /** The payments among `ids` that exist, in no particular order. */
  findByIds(ids: readonly string[]): Promise<PaymentRecord[]>;
  /** Every SUCCEEDED or FAILED payment of these orders, oldest first. */
  findSettledByOrderIds(orderIds: readonly string[]): Promise<PaymentRecord[]>;
  /**
   * Atomically finds or creates the PROCESSING row for (userId, idempotencyKey): concurrent calls
   * with one key all get the same row. A new row is refused while another key's payment of the
   * same order has succeeded or is still within its processing lease.
   */
  claim(payment: NewPayment): Promise<ClaimResult>;
  /** PROCESSING becomes SUCCEEDED; a payment already settled is returned as it is. */
  markSucceeded(id: string, providerPaymentId: string): Promise<PaymentRecord>;
  /** PROCESSING becomes FAILED; a payment already settled is returned as it is. */
  markFailed(id: string, failureCode: string, providerPaymentId: string | null): Promise<PaymentRecord>;
  /** Deletes a payment still PROCESSING (the provider refused its input), freeing its key. */
  discard(id: string): Promise<void>;
}

export interface SqlPaymentRepositoryOptions {
  /**
   * How long a PROCESSING payment keeps other keys from charging the same order. Longer than the
   * slowest provider call, short enough that a crashed attempt does not block the order for long.
   * @default 60_000
   */
  processingLeaseMs?: number;
  /** @default () => new Date() */
  now?: () => Date;
}

const COLUMNS = [
  "id",
  "user_id",
  "order_id",
  "order_owner_id",
  "idempotency_key",
  "amount_cents",
  "currency",
  "status",
  "provider_payment_id",
  "failure_code",
  "created_at",
  "updated_at",
] as const;

type PaymentRow = Pick<Selectable<PaymentsTables["payments"]>, (typeof COLUMNS)[number]>;

const toPayment = (row: PaymentRow): PaymentRecord => ({
  id: row.id,
  userId: row.user_id,
  orderId: row.order_id,
  orderOwnerId: row.order_owner_id,
  idempotencyKey: row.idempotency_key,
  amountCents: row.amount_cents,
  currency: row.currency,
  status: row.status,
  providerPaymentId: row.provider_payment_id,
  failureCode: row.failure_code,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

type Db = Database<PaymentsTables>["kysely"];

export class SqlPaymentRepository implements PaymentRepository {
  private readonly leaseMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly db: Database<PaymentsTables>,
    options: SqlPaymentRepositoryOptions = {},
  ) {
    this.leaseMs = options.processingLeaseMs ?? 60_000;
    this.now = options.now ?? (() => new Date());
  }

  private async byKey(db: Db, userId: string, idempotencyKey: string): Promise<PaymentRecord | null> {
    const row = await db
      .selectFrom("payments")
      .select(COLUMNS)
      .where("user_id", "=", userId)
      .where("idempotency_key", "=", idempotencyKey)
      .executeTakeFirst();
    return row ? toPayment(row) : null;
  }

  async findByKey(userId: string, idempotencyKey: string): Promise<PaymentRecord | null> {
    return this.byKey(this.db.kysely, userId, idempotencyKey);
  }

  async findByIds(ids: readonly string[]): Promise<PaymentRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.kysely.selectFrom("payments").select(COLUMNS).where("id", "in", ids).execute();
    return rows.map(toPayment);
  }

  async findSettledByOrderIds(orderIds: readonly string[]): Promise<PaymentRecord[]> {
    if (orderIds.length === 0) return [];
    const rows = await this.db.kysely
      .selectFrom("payments")
      .select(COLUMNS)
      .where("order_id", "in", orderIds)
      .where("status", "in", ["SUCCEEDED", "FAILED"])
      .orderBy("created_at")
      .orderBy("rowid")
      .execute();
    return rows.map(toPayment);
  }

  async claim(payment: NewPayment): Promise<ClaimResult> {
    return this.db.transaction(async (trx): Promise<ClaimResult> => {
      // One claim per order at a time: two requests with different keys for one order must not
      // both see "nothing in progress" and both charge. SQLite is single-writer already.
      await this.db.lock(trx, `payments.order:${payment.orderId}`);
      const mine = await this.byKey(trx, payment.userId, payment.idempotencyKey);
      if (mine) return { kind: "claimed", payment: mine };

      const now = this.now();
      const others = await trx
        .selectFrom("payments")
        .select(["status", "updated_at"])
        .where("order_id", "=", payment.orderId)
        .where("status", "in", ["SUCCEEDED", "PROCESSING"])
        .execute();
      if (others.some((p) => p.status === "SUCCEEDED")) return { kind: "order-paid" };
      const leaseStart = new Date(now.getTime() - this.leaseMs).toISOString();
      if (others.some((p) => p.updated_at > leaseStart)) return { kind: "order-busy" };

      const at = now.toISOString();
      // DO NOTHING: a concurrent writer with the same key but another order (which the order
      // lock does not cover) leaves its row, and we read that one back.
      await trx
        .insertInto("payments")
        .values({
          id: randomUUID(),
          user_id: payment.userId,
          order_id: payment.orderId,
          order_owner_id: payment.orderOwnerId,
          idempotency_key: payment.idempotencyKey,
          amount_cents: payment.amountCents,
          currency: payment.currency,
          status: "PROCESSING",
          created_at: at,
          updated_at: at,
        })
        .onConflict((oc) => oc.columns(["user_id", "idempotency_key"]).doNothing())
        .execute();
      return { kind: "claimed", payment: (await this.byKey(trx, payment.userId, payment.idempotencyKey))! };
    });
  }

  async markSucceeded(id: string, providerPaymentId: string): Promise<PaymentRecord> {
    await this.db.kysely
      .updateTable("payments")
      .set({ status: "SUCCEEDED", provider_payment_id: providerPaymentId, updated_at: this.now().toISOString() })
      .where("id", "=", id)
      .where("status", "=", "PROCESSING")
      .execute();
    return this.byId(id);
  }

  async markFailed(id: string, failureCode: string, providerPaymentId: string | null): Promise<PaymentRecord> {
    await this.db.kysely
      .updateTable("payments")
      .set({
        status: "FAILED",
        failure_code: failureCode,
        provider_payment_id: providerPaymentId,
        updated_at: this.now().toISOString(),
      })
      .where("id", "=", id)
      .where("status", "=", "PROCESSING")
      .execute();
    return this.byId(id);
  }

  async discard(id: string): Promise<void> {
    await this.db.kysely.deleteFrom("payments").where("id", "=", id).where("status", "=", "PROCESSING").execute();
  }

  /** After a guarded update: the row as it now is, whoever settled it. */
  private async byId(id: string): Promise<PaymentRecord> {
    const row = await this.db.kysely.selectFrom("payments").select(COLUMNS).where("id", "=", id).executeTakeFirst();
    if (!row) throw new Error(`payment ${id} vanished`);
    return toPayment(row);
  }
}
