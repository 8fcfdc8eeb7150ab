import type { Migration } from "../shared/db.ts";

export const migrations: Migration[] = [
  {
    version: 1,
    name: "payments",
    // user_id is who asked (idempotency keys are scoped to them); order_owner_id is whose order
    // was paid, so its owner can read the payment even when an admin paid on their behalf.
    up: `
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
        updated_at TEXT NOT NULL,
        UNIQUE (user_id, idempotency_key)
      );

      CREATE INDEX payments_order_id ON payments (order_id);
    `,
  },
];
