import { inList, type SqliteDatabase } from "../shared/db.ts";

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

const USER_COLUMNS = "id, email, name, password_hash AS passwordHash, scope, created_at AS createdAt";
const KEY_COLUMNS =
  "kid, alg, private_jwk AS privateJwk, public_jwk AS publicJwk, created_at AS createdAt, retired_at AS retiredAt";

export class SqliteUsersRepository implements UsersRepository {
  constructor(private readonly db: SqliteDatabase) {}

  async findById(id: string): Promise<UserRecord | null> {
    return this.db.get<UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, [id]) ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    return this.db.all<UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE id IN (${inList(ids.length)})`, ids);
  }

  async findByEmail(email: string): Promise<UserRecord | null> {
    return this.db.get<UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`, [email]) ?? null;
  }

  async create(user: NewUser): Promise<UserRecord | null> {
    const createdAt = new Date().toISOString();
    // ON CONFLICT rather than a prior SELECT: concurrent registrations of one email race only here,
    // and the constraint lets exactly one of them in.
    const result = this.db.run(
      `INSERT INTO users (id, email, name, password_hash, scope, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (email) DO NOTHING`,
      [user.id, user.email, user.name, user.passwordHash, user.scope, createdAt],
    );
    return result.changes === 1 ? { ...user, createdAt } : null;
  }

  async count(): Promise<number> {
    return this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM users")?.n ?? 0;
  }
}

export class SqliteSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly db: SqliteDatabase) {}

  async newestActive(): Promise<SigningKeyRecord | null> {
    return (
      this.db.get<SigningKeyRecord>(
        // rowid breaks ties between keys created within the same millisecond (a quick rotation).
        `SELECT ${KEY_COLUMNS} FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT 1`,
      ) ?? null
    );
  }

  async listActive(): Promise<SigningKeyRecord[]> {
    return this.db.all<SigningKeyRecord>(
      `SELECT ${KEY_COLUMNS} FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, rowid DESC`,
    );
  }

  async insert(key: Omit<SigningKeyRecord, "createdAt" | "retiredAt">): Promise<SigningKeyRecord> {
    const createdAt = new Date().toISOString();
    this.db.run("INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?, ?)", [
      key.kid,
      key.alg,
      key.privateJwk,
      key.publicJwk,
      createdAt,
    ]);
    return { ...key, createdAt, retiredAt: null };
  }
}
