import type { Database } from "../shared/db.ts";
import type { UsersTables } from "./migrations.ts";

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

const CLIENT_COLUMNS = [
  "client_id as clientId",
  "secret_hash as secretHash",
  "scope",
  "can_introspect as canIntrospect",
  "token_ttl_seconds as tokenTtlSeconds",
  "created_at as createdAt",
] as const;
const TOKEN_COLUMNS = [
  "token_hash as tokenHash",
  "client_id as clientId",
  "scope",
  "issued_at as issuedAt",
  "expires_at as expiresAt",
  "revoked_at as revokedAt",
] as const;

export class SqlOAuthRepository implements OAuthRepository {
  constructor(private readonly db: Database<UsersTables>) {}

  async findClient(clientId: string): Promise<OAuthClientRecord | null> {
    const row = await this.db.kysely
      .selectFrom("oauth_clients")
      .select(CLIENT_COLUMNS)
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    return row ? { ...row, canIntrospect: row.canIntrospect === 1 } : null;
  }

  async upsertClient(client: NewOAuthClient): Promise<void> {
    await this.db.kysely
      .insertInto("oauth_clients")
      .values(this.clientRow(client))
      .onConflict((oc) =>
        oc.column("client_id").doUpdateSet((eb) => ({
          secret_hash: eb.ref("excluded.secret_hash"),
          scope: eb.ref("excluded.scope"),
          can_introspect: eb.ref("excluded.can_introspect"),
          token_ttl_seconds: eb.ref("excluded.token_ttl_seconds"),
        })),
      )
      .execute();
  }

  async insertClientIfMissing(client: NewOAuthClient): Promise<boolean> {
    const result = await this.db.kysely
      .insertInto("oauth_clients")
      .values(this.clientRow(client))
      .onConflict((oc) => oc.column("client_id").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows) === 1;
  }

  async deleteClientsExcept(clientIds: readonly string[]): Promise<number> {
    const result = await this.db.kysely
      .deleteFrom("oauth_clients")
      .$if(clientIds.length > 0, (qb) => qb.where("client_id", "not in", clientIds))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async insertToken(token: Omit<OAuthTokenRecord, "revokedAt">): Promise<void> {
    await this.db.kysely
      .insertInto("oauth_tokens")
      .values({
        token_hash: token.tokenHash,
        client_id: token.clientId,
        scope: token.scope,
        issued_at: token.issuedAt,
        expires_at: token.expiresAt,
      })
      .execute();
  }

  async findToken(tokenHash: string): Promise<OAuthTokenRecord | null> {
    return (
      (await this.db.kysely
        .selectFrom("oauth_tokens")
        .select(TOKEN_COLUMNS)
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst()) ?? null
    );
  }

  async revokeToken(tokenHash: string, clientId: string, revokedAt: string): Promise<boolean> {
    const result = await this.db.kysely
      .updateTable("oauth_tokens")
      .set({ revoked_at: revokedAt })
      .where("token_hash", "=", tokenHash)
      .where("client_id", "=", clientId)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async deleteExpiredTokens(before: number): Promise<number> {
    const result = await this.db.kysely.deleteFrom("oauth_tokens").where("expires_at", "<", before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private clientRow(client: NewOAuthClient) {
    return {
      client_id: client.clientId,
      secret_hash: client.secretHash,
      scope: client.scope,
      can_introspect: client.canIntrospect ? 1 : 0,
      token_ttl_seconds: client.tokenTtlSeconds,
      created_at: new Date().toISOString(),
    };
  }
}
