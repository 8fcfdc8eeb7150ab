import type { Generated } from "kysely";
import type { Migration } from "../shared/db.ts";
import type { OrderStatus } from "./repository.ts";

/** The tables as the queries see them (Kysely types). */
export interface OrdersTables {
  orders: {
    id: string;
    user_id: string;
    status: OrderStatus;
    total_cents: number;
    currency: string;
    payment_id: string | null;
    created_at: string;
    updated_at: string;
    /** SQLite's implicit rowid; an identity column of that name on PostgreSQL. Insertion order. */
    rowid: Generated<number>;
  };
  order_items: {
    order_id: string;
    product_id: string;
    quantity: number;
    unit_price_cents: number;
    position: number;
  };
}

const orders = (engine: "sqlite" | "postgres") => `
      CREATE TABLE orders (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('PENDING', 'PAID', 'CANCELLED')),
        total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
        currency TEXT NOT NULL,
        payment_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL${engine === "postgres" ? ",\n        rowid BIGINT GENERATED ALWAYS AS IDENTITY" : ""}
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
    `;

export const migrations: Migration[] = [
  {
    version: 1,
    name: "orders and their items",
    sqlite: orders("sqlite"),
    // PostgreSQL has no implicit rowid: the identity column keeps "newest first" ties in insertion order.
    postgres: orders("postgres"),
  },
];
