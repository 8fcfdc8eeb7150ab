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
  {
    version: 3,
    name: "create oauth clients and tokens",
    up: `
      CREATE TABLE oauth_clients (
        client_id TEXT PRIMARY KEY,
        -- scrypt, like passwords; the secret itself is never stored.
        secret_hash TEXT NOT NULL,
        scope TEXT NOT NULL,
        can_introspect INTEGER NOT NULL DEFAULT 0,
        -- NULL: the service's default token lifetime.
        token_ttl_seconds INTEGER,
        created_at TEXT NOT NULL
      );
      CREATE TABLE oauth_tokens (
        -- SHA-256 of the opaque token: a leaked database holds no usable token.
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        -- Unix seconds, as they appear in introspection answers.
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at TEXT
      );
      CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);
      CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id);
    `,
  },
];
