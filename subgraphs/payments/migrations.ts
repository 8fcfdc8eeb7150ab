import type { Generated } from "kysely";
import type { Migration } from "../shared/db.ts";
import type { PaymentStatus } from "./repository.ts";

/** The tables as the queries see them (Kysely types). */
export interface PaymentsTables {
  payments: {
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
    /** SQLite's implicit rowid; an identity column of that name on PostgreSQL. Insertion order. */
    rowid: Generated<number>;
  };
}

// user_id is who asked (idempotency keys are scoped to them); order_owner_id is whose order
// was paid, so its owner can read the payment even when an admin paid on their behalf.
const payments = (engine: "sqlite" | "postgres") => `
      CREATE TABLE payments (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        order_owner_id TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
        currency TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('PROCESSING', 'SUCCEEDED', 'FAILED')),
        provider_payment_id TEXT,
        failure_code TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,${engine === "postgres" ? "\n        rowid BIGINT GENERATED ALWAYS AS IDENTITY," : ""}
        UNIQUE (user_id, idempotency_key)
      );

      CREATE INDEX payments_order_id ON payments (order_id);
    `;

export const migrations: Migration[] = [
  {
    version: 1,
    name: "payments",
    sqlite: payments("sqlite"),
    // PostgreSQL has no implicit rowid: the identity column keeps "oldest first" ties in insertion order.
    postgres: payments("postgres"),
  },
];
