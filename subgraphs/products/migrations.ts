import type { Migration } from "../shared/db.ts";

export const migrations: Migration[] = [
  {
    version: 1,
    name: "products and stock reservations",
    up: `
      CREATE TABLE products (
        id TEXT PRIMARY KEY,
        position INTEGER NOT NULL UNIQUE,
        name TEXT NOT NULL,
        price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
        currency TEXT NOT NULL,
        stock INTEGER NOT NULL CHECK (stock >= 0),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );

      CREATE TABLE reservations (
        order_id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('HELD', 'RELEASED')),
        created_at TEXT NOT NULL
      );

      CREATE TABLE reservation_items (
        order_id TEXT NOT NULL REFERENCES reservations (order_id),
        product_id TEXT NOT NULL REFERENCES products (id),
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
        currency TEXT NOT NULL,
        PRIMARY KEY (order_id, product_id)
      );
    `,
  },
];
