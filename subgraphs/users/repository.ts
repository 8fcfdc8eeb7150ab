import type { Database } from "../shared/db.ts";
import type { UsersTables } from "./migrations.ts";

export interface UserRecord {
  id: string;
  /** Always lower-case. */
  email: string;
  name: string;
  passwordHash: string;
  /** Space-separated scopes, as they go into the token. */
  scope: string;
  createdAt: string;
}

export type NewUser = Omit<UserRecord, "createdAt">;

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /** JSON of the private JWK; never leaves this service. */
  privateJwk: string;
  /** JSON of the public JWK. */
  publicJwk: string;
  createdAt: string;
  retiredAt: string | null;
}

/**
 * Data access for users and their token-signing keys. Async on purpose: resolvers depend only
 * on this interface, so a networked store (PostgreSQL) can replace SQLite without touching them.
 */
export interface UsersRepository {
  findById(id: string): Promise<UserRecord | null>;
  /** One query for the whole list; unknown ids are simply absent from the result. */
  findByIds(ids: readonly string[]): Promise<UserRecord[]>;
  findByEmail(email: string): Promise<UserRecord | null>;
  /** Inserts the user, or returns null when the email is taken (decided by the store's UNIQUE constraint). */
  create(user: NewUser): Promise<UserRecord | null>;
  count(): Promise<number>;
}

export interface SigningKeyRepository {
  /** The most recently created key that is not retired, if any. */
  newestActive(): Promise<SigningKeyRecord | null>;
  /** Every key that is not retired, newest first. */
  listActive(): Promise<SigningKeyRecord[]>;
  insert(key: Omit<SigningKeyRecord, "createdAt" | "retiredAt">): Promise<SigningKeyRecord>;
}

const USER_COLUMNS = [
  "id",
  "email",
  "name",
  "password_hash as passwordHash",
  "scope",
  "created_at as createdAt",
] as const;
const KEY_COLUMNS = [
  "kid",
  "alg",
  "private_jwk as privateJwk",
  "public_jwk as publicJwk",
  "created_at as createdAt",
  "retired_at as retiredAt",
] as const;

export class SqlUsersRepository implements UsersRepository {
  constructor(private readonly db: Database<UsersTables>) {}

  async findById(id: string): Promise<UserRecord | null> {
    return (
      (await this.db.kysely.selectFrom("users").select(USER_COLUMNS).where("id", "=", id).executeTakeFirst()) ?? null
    );
  }

  async findByIds(ids: readonly string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    return this.db.kysely.selectFrom("users").select(USER_COLUMNS).where("id", "in", ids).execute();
  }

  async findByEmail(email: string): Promise<UserRecord | null> {
    return (
      (await this.db.kysely.selectFrom("users").select(USER_COLUMNS).where("email", "=", email).executeTakeFirst()) ??
      null
    );
  }

  async create(user: NewUser): Promise<UserRecord | null> {
    const createdAt = new Date().toISOString();
    // ON CONFLICT rather than a prior SELECT: concurrent registrations of one email race only here,
    // and the constraint lets exactly one of them in.
    const result = await this.db.kysely
      .insertInto("users")
      .values({
        id: user.id,
        email: user.email,
        name: user.name,
        password_hash: user.passwordHash,
        scope: user.scope,
        created_at: createdAt,
      })
      .onConflict((oc) => oc.column("email").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows) === 1 ? { ...user, createdAt } : null;
  }

  async count(): Promise<number> {
    const row = await this.db.kysely
      .selectFrom("users")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}

export class SqlSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly db: Database<UsersTables>) {}

  private active() {
    // rowid breaks ties between keys created within the same millisecond (a quick rotation).
    return this.db.kysely
      .selectFrom("signing_keys")
      .select(KEY_COLUMNS)
      .where("retired_at", "is", null)
      .orderBy("created_at", "desc")
      .orderBy("rowid", "desc");
  }

  async newestActive(): Promise<SigningKeyRecord | null> {
    return (await this.active().limit(1).executeTakeFirst()) ?? null;
  }

  async listActive(): Promise<SigningKeyRecord[]> {
    return this.active().execute();
  }

  async insert(key: Omit<SigningKeyRecord, "createdAt" | "retiredAt">): Promise<SigningKeyRecord> {
    const createdAt = new Date().toISOString();
    await this.db.kysely
      .insertInto("signing_keys")
      .values({
        kid: key.kid,
        alg: key.alg,
        private_jwk: key.privateJwk,
        public_jwk: key.publicJwk,
        created_at: createdAt,
      })
      .execute();
    return { ...key, createdAt, retiredAt: null };
  }
}
