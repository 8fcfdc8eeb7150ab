import type { Generated } from "kysely";
import type { Migration } from "../shared/db.ts";

/** The tables as the queries see them (Kysely types). */
export interface ProductsTables {
  products: {
    id: string;
    position: number;
    name: string;
    price_cents: number;
    currency: string;
    stock: number;
    created_at: string;
    updated_at: string;
  };
  reservations: {
    order_id: string;
    status: "HELD" | "RELEASED";
    created_at: string;
  };
  reservation_items: {
    order_id: string;
    product_id: string;
    quantity: number;
    unit_price_cents: number;
    currency: string;
    /** SQLite's implicit rowid; an identity column of that name on PostgreSQL. Insertion order. */
    rowid: Generated<number>;
  };
}

const products = (engine: "sqlite" | "postgres") => `
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
        currency TEXT NOT NULL,${engine === "postgres" ? "\n        rowid BIGINT GENERATED ALWAYS AS IDENTITY," : ""}
        PRIMARY KEY (order_id, product_id)
      );
    `;

export const migrations: Migration[] = [
  {
    version: 1,
    name: "products and stock reservations",
    sqlite: products("sqlite"),
    // PostgreSQL has no implicit rowid: the identity column keeps "in the order written" queries identical.
    postgres: products("postgres"),
  },
];
