import type { Migration } from "../shared/db.ts";

export const migrations: Migration[] = [
  {
    version: 1,
    name: "create users",
    up: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        -- Stored lower-cased so the UNIQUE constraint is the one source of truth for duplicates.
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        scope TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "create signing keys",
    up: `
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        created_at TEXT NOT NULL,
        -- Retired keys are neither used for signing nor published.
        retired_at TEXT
      );
      CREATE INDEX signing_keys_active ON signing_keys (retired_at, created_at);
    `,
  },
];
