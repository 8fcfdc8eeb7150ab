import { inList, type SqliteDatabase } from "../shared/db.ts";

/** A machine client of the client-credentials grant. */
export interface OAuthClientRecord {
  clientId: string;
  /** scrypt hash of the client secret (see password.ts). */
  secretHash: string;
  /** Space-separated scopes the client may be granted. */
  scope: string;
  /** May call the introspection endpoint (resource servers such as the gateway). */
  canIntrospect: boolean;
  /** Lifetime of this client's tokens; null is the service default. */
  tokenTtlSeconds: number | null;
  createdAt: string;
}

export type NewOAuthClient = Omit<OAuthClientRecord, "createdAt">;

/** An issued opaque access token, known only by its hash. */
export interface OAuthTokenRecord {
  /** SHA-256 (hex) of the token. */
  tokenHash: string;
  clientId: string;
  scope: string;
  /** Unix seconds. */
  issuedAt: number;
  /** Unix seconds. */
  expiresAt: number;
  revokedAt: string | null;
}

/** Data access for OAuth clients and tokens; async so another store can replace SQLite. */
export interface OAuthRepository {
  findClient(clientId: string): Promise<OAuthClientRecord | null>;
  /** Inserts the client or replaces every field of an existing one (keeping its tokens). */
  upsertClient(client: NewOAuthClient): Promise<void>;
  /** Inserts the client unless one with this id exists; true when inserted. */
  insertClientIfMissing(client: NewOAuthClient): Promise<boolean>;
  /** Deletes every client (and, by cascade, its tokens) not in the list; returns how many. */
  deleteClientsExcept(clientIds: readonly string[]): Promise<number>;
  insertToken(token: Omit<OAuthTokenRecord, "revokedAt">): Promise<void>;
  findToken(tokenHash: string): Promise<OAuthTokenRecord | null>;
  /** Revokes the token if it belongs to the client; true when a token was revoked now. */
  revokeToken(tokenHash: string, clientId: string, revokedAt: string): Promise<boolean>;
  /** Deletes tokens that expired before `before` (Unix seconds). */
  deleteExpiredTokens(before: number): Promise<number>;
}

const CLIENT_COLUMNS =
  "client_id AS clientId, secret_hash AS secretHash, scope, can_introspect AS canIntrospect, " +
  "token_ttl_seconds AS tokenTtlSeconds, created_at AS createdAt";
const TOKEN_COLUMNS =
  "token_hash AS tokenHash, client_id AS clientId, scope, issued_at AS issuedAt, expires_at AS expiresAt, " +
  "revoked_at AS revokedAt";

type ClientRow = Omit<OAuthClientRecord, "canIntrospect"> & { canIntrospect: number };

export class SqliteOAuthRepository implements OAuthRepository {
  constructor(private readonly db: SqliteDatabase) {}

  async findClient(clientId: string): Promise<OAuthClientRecord | null> {
    const row = this.db.get<ClientRow>(`SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = ?`, [clientId]);
    return row ? { ...row, canIntrospect: row.canIntrospect === 1 } : null;
  }

  async upsertClient(client: NewOAuthClient): Promise<void> {
    this.db.run(
      `INSERT INTO oauth_clients (client_id, secret_hash, scope, can_introspect, token_ttl_seconds, created_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, scope = excluded.scope,
         can_introspect = excluded.can_introspect, token_ttl_seconds = excluded.token_ttl_seconds`,
      this.clientParams(client),
    );
  }

  async insertClientIfMissing(client: NewOAuthClient): Promise<boolean> {
    const result = this.db.run(
      `INSERT INTO oauth_clients (client_id, secret_hash, scope, can_introspect, token_ttl_seconds, created_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO NOTHING`,
      this.clientParams(client),
    );
    return result.changes === 1;
  }

  async deleteClientsExcept(clientIds: readonly string[]): Promise<number> {
    const sql =
      clientIds.length === 0
        ? "DELETE FROM oauth_clients"
        : `DELETE FROM oauth_clients WHERE client_id NOT IN (${inList(clientIds.length)})`;
    return this.db.run(sql, clientIds).changes;
  }

  async insertToken(token: Omit<OAuthTokenRecord, "revokedAt">): Promise<void> {
    this.db.run(
      "INSERT INTO oauth_tokens (token_hash, client_id, scope, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      [token.tokenHash, token.clientId, token.scope, token.issuedAt, token.expiresAt],
    );
  }

  async findToken(tokenHash: string): Promise<OAuthTokenRecord | null> {
    return (
      this.db.get<OAuthTokenRecord>(`SELECT ${TOKEN_COLUMNS} FROM oauth_tokens WHERE token_hash = ?`, [tokenHash]) ??
      null
    );
  }

  async revokeToken(tokenHash: string, clientId: string, revokedAt: string): Promise<boolean> {
    const result = this.db.run(
      "UPDATE oauth_tokens SET revoked_at = ? WHERE token_hash = ? AND client_id = ? AND revoked_at IS NULL",
      [revokedAt, tokenHash, clientId],
    );
    return result.changes === 1;
  }

  async deleteExpiredTokens(before: number): Promise<number> {
    return this.db.run("DELETE FROM oauth_tokens WHERE expires_at < ?", [before]).changes;
  }

  private clientParams(client: NewOAuthClient): unknown[] {
    return [
      client.clientId,
      client.secretHash,
      client.scope,
      client.canIntrospect ? 1 : 0,
      client.tokenTtlSeconds,
      new Date().toISOString(),
    ];
  }
}
