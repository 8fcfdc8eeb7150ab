import type { Migration } from "../shared/db.ts";

export const migrations: Migration[] = [
  {
    version: 1,
    name: "orders and their items",
    up: `
      CREATE TABLE orders (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('PENDING', 'PAID', 'CANCELLED')),
        total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
        currency TEXT NOT NULL,
        payment_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX orders_user_created ON orders (user_id, created_at);

      CREATE TABLE order_items (
        order_id TEXT NOT NULL REFERENCES orders (id),
        product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
        position INTEGER NOT NULL,
        PRIMARY KEY (order_id, product_id)
      );
    `,
  },
];
