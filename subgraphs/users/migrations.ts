import type { Generated } from "kysely";
import type { Migration } from "../shared/db.ts";

/** The tables as the queries see them (Kysely types). */
export interface UsersTables {
  users: {
    id: string;
    email: string;
    name: string;
    password_hash: string;
    scope: string;
    created_at: string;
  };
  signing_keys: {
    kid: string;
    alg: string;
    private_jwk: string;
    public_jwk: string;
    created_at: string;
    retired_at: string | null;
    /** SQLite's implicit rowid; an identity column of that name on PostgreSQL. Insertion order. */
    rowid: Generated<number>;
  };
  oauth_clients: {
    client_id: string;
    secret_hash: string;
    scope: string;
    /** 0 or 1: one representation on both engines. */
    can_introspect: number;
    token_ttl_seconds: number | null;
    created_at: string;
  };
  oauth_tokens: {
    token_hash: string;
    client_id: string;
    scope: string;
    issued_at: number;
    expires_at: number;
    revoked_at: string | null;
  };
}

type Engine = "sqlite" | "postgres";

const users = `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        -- Stored lower-cased so the UNIQUE constraint is the one source of truth for duplicates.
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        scope TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `;

const signingKeys = (engine: Engine) => `
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        created_at TEXT NOT NULL,
        -- Retired keys are neither used for signing nor published.
        retired_at TEXT${engine === "postgres" ? ",\n        rowid BIGINT GENERATED ALWAYS AS IDENTITY" : ""}
      );
      CREATE INDEX signing_keys_active ON signing_keys (retired_at, created_at);
    `;

// Unix seconds outgrow PostgreSQL's 32-bit INTEGER in 2038; SQLite's INTEGER is 64-bit already.
const oauth = (engine: Engine) => {
  const seconds = engine === "postgres" ? "BIGINT" : "INTEGER";
  return `
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
        issued_at ${seconds} NOT NULL,
        expires_at ${seconds} NOT NULL,
        revoked_at TEXT
      );
      CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);
      CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id);
    `;
};

export const migrations: Migration[] = [
  { version: 1, name: "create users", sqlite: users, postgres: users },
  // PostgreSQL has no implicit rowid: the identity column keeps "newest first" ties in insertion order.
  { version: 2, name: "create signing keys", sqlite: signingKeys("sqlite"), postgres: signingKeys("postgres") },
  { version: 3, name: "create oauth clients and tokens", sqlite: oauth("sqlite"), postgres: oauth("postgres") },
];
