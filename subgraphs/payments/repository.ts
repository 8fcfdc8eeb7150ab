import { randomUUID } from "node:crypto";
import { inList, type SqliteDatabase } from "../shared/db.ts";

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

export interface SqlitePaymentRepositoryOptions {
  /**
   * How long a PROCESSING payment keeps other keys from charging the same order. Longer than the
   * slowest provider call, short enough that a crashed attempt does not block the order for long.
   * @default 60_000
   */
  processingLeaseMs?: number;
  /** @default () => new Date() */
  now?: () => Date;
}

interface PaymentRow {
  id: string;
  user_id: string;
  order_id: string;
  order_owner_id: string;
  idempotency_key: string;
  amount_cents: number;
  currency: string;
  status: PaymentStatus;
  provider_payment_id: string | null;
  failure_code: string | null;
  created_at: string;
  updated_at: string;
}

const COLUMNS =
  "id, user_id, order_id, order_owner_id, idempotency_key, amount_cents, currency, status, provider_payment_id, failure_code, created_at, updated_at";

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

export class SqlitePaymentRepository implements PaymentRepository {
  private readonly leaseMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly db: SqliteDatabase,
    options: SqlitePaymentRepositoryOptions = {},
  ) {
    this.leaseMs = options.processingLeaseMs ?? 60_000;
    this.now = options.now ?? (() => new Date());
  }

  private byKey(userId: string, idempotencyKey: string): PaymentRecord | null {
    const row = this.db.get<PaymentRow>(`SELECT ${COLUMNS} FROM payments WHERE user_id = ? AND idempotency_key = ?`, [
      userId,
      idempotencyKey,
    ]);
    return row ? toPayment(row) : null;
  }

  private byId(id: string): PaymentRecord {
    const row = this.db.get<PaymentRow>(`SELECT ${COLUMNS} FROM payments WHERE id = ?`, [id]);
    if (!row) throw new Error(`payment ${id} vanished`);
    return toPayment(row);
  }

  async findByKey(userId: string, idempotencyKey: string): Promise<PaymentRecord | null> {
    return this.byKey(userId, idempotencyKey);
  }

  async findByIds(ids: readonly string[]): Promise<PaymentRecord[]> {
    if (ids.length === 0) return [];
    return this.db
      .all<PaymentRow>(`SELECT ${COLUMNS} FROM payments WHERE id IN (${inList(ids.length)})`, ids)
      .map(toPayment);
  }

  async findSettledByOrderIds(orderIds: readonly string[]): Promise<PaymentRecord[]> {
    if (orderIds.length === 0) return [];
    return this.db
      .all<PaymentRow>(
        `SELECT ${COLUMNS} FROM payments
         WHERE order_id IN (${inList(orderIds.length)}) AND status IN ('SUCCEEDED', 'FAILED')
         ORDER BY created_at, rowid`,
        orderIds,
      )
      .map(toPayment);
  }

  async claim(payment: NewPayment): Promise<ClaimResult> {
    return this.db.transaction((): ClaimResult => {
      const mine = this.byKey(payment.userId, payment.idempotencyKey);
      if (mine) return { kind: "claimed", payment: mine };

      const now = this.now();
      const others = this.db.all<{ status: PaymentStatus; updated_at: string }>(
        "SELECT status, updated_at FROM payments WHERE order_id = ? AND status IN ('SUCCEEDED', 'PROCESSING')",
        [payment.orderId],
      );
      if (others.some((p) => p.status === "SUCCEEDED")) return { kind: "order-paid" };
      const leaseStart = new Date(now.getTime() - this.leaseMs).toISOString();
      if (others.some((p) => p.updated_at > leaseStart)) return { kind: "order-busy" };

      const at = now.toISOString();
      // OR IGNORE: a concurrent writer with the same key (another process on this file, or a
      // PostgreSQL implementation without this lock) leaves its row, and we read that one back.
      this.db.run(
        `INSERT OR IGNORE INTO payments
           (id, user_id, order_id, order_owner_id, idempotency_key, amount_cents, currency, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'PROCESSING', ?, ?)`,
        [
          randomUUID(),
          payment.userId,
          payment.orderId,
          payment.orderOwnerId,
          payment.idempotencyKey,
          payment.amountCents,
          payment.currency,
          at,
          at,
        ],
      );
      return { kind: "claimed", payment: this.byKey(payment.userId, payment.idempotencyKey)! };
    });
  }

  async markSucceeded(id: string, providerPaymentId: string): Promise<PaymentRecord> {
    return this.db.transaction(() => {
      this.db.run(
        "UPDATE payments SET status = 'SUCCEEDED', provider_payment_id = ?, updated_at = ? WHERE id = ? AND status = 'PROCESSING'",
        [providerPaymentId, this.now().toISOString(), id],
      );
      return this.byId(id);
    });
  }

  async markFailed(id: string, failureCode: string, providerPaymentId: string | null): Promise<PaymentRecord> {
    return this.db.transaction(() => {
      this.db.run(
        "UPDATE payments SET status = 'FAILED', failure_code = ?, provider_payment_id = ?, updated_at = ? WHERE id = ? AND status = 'PROCESSING'",
        [failureCode, providerPaymentId, this.now().toISOString(), id],
      );
      return this.byId(id);
    });
  }

  async discard(id: string): Promise<void> {
    this.db.run("DELETE FROM payments WHERE id = ? AND status = 'PROCESSING'", [id]);
  }
}
