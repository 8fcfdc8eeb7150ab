import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteHandle from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type LogEvent,
  PostgresDialect,
  type RawBuilder,
  SqliteDialect,
  SqliteDriver,
  sql,
  type Transaction,
} from "kysely";
import type { Logger } from "pino";
import { loadPg } from "../../common/index.ts";

export type Engine = "sqlite" | "postgres";

/**
 * One forward-only schema change, written once per engine. Versions are applied in order, each
 * exactly once; a version never changes after release, a new one is added instead.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

/** Where a service keeps its data: an embedded SQLite file, or a schema in a PostgreSQL database. */
export interface DatabaseOptions {
  /** SQLite file, or ":memory:" for a throw-away store. Ignored when `databaseUrl` is set. */
  databasePath: string;
  /**
   * `postgres://…` URL: the service keeps its data in PostgreSQL, in the schema
   * `<databaseSchemaPrefix><service name>`, created on first start.
   * @default undefined (SQLite at `databasePath`)
   */
  databaseUrl?: string;
  /** Prepended to the service name to form its PostgreSQL schema; lets runs share one database. @default "" */
  databaseSchemaPrefix?: string;
  /** Most PostgreSQL connections the service holds at once. @default 10 */
  databasePoolSize?: number;
}

export interface OpenDatabaseOptions extends DatabaseOptions {
  /** The service that owns the data; names its PostgreSQL schema (a hyphen becomes _). */
  service: string;
  /** Receives errors of idle PostgreSQL connections. @default none (they are dropped) */
  logger?: Logger;
}

/** A PostgreSQL schema name we create and put on the search path without quoting. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Transaction control is not a query the code asked for: keep it out of the count. */
const TRANSACTION_CONTROL = /^\s*(begin|start transaction|commit|rollback|savepoint|release)\b/i;

/**
 * BEGIN IMMEDIATE: a transaction takes SQLite's write lock when it starts, so two processes on one
 * file never both read and then fail to upgrade to writing (SQLITE_BUSY mid-transaction).
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly handle: SqliteHandle.Database) {
    super({ database: handle });
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.handle });
  }
}

/**
 * A service's database on either engine, through one query builder (Kysely). Repositories write
 * their queries once; what differs per engine (locking, migrations) is decided here.
 */
export class Database<DB> {
  /** Statements executed since open (transaction control excluded); read by tests to prove batching. */
  queryCount = 0;
  readonly kysely: Kysely<DB>;

  private constructor(
    readonly engine: Engine,
    /** The PostgreSQL schema holding the tables; null on SQLite. */
    readonly schema: string | null,
    dialect: SqliteDialect | PostgresDialect,
    private readonly sqlite: SqliteHandle.Database | null,
  ) {
    this.kysely = new Kysely<DB>({
      dialect,
      log: (event: LogEvent) => {
        if (!TRANSACTION_CONTROL.test(event.query.sql)) this.queryCount++;
      },
    });
  }

  /** Opens the store `options` name: PostgreSQL when `databaseUrl` is set, SQLite otherwise. */
  static open<DB>(options: OpenDatabaseOptions): Database<DB> {
    if (options.databaseUrl) return Database.openPostgres<DB>(options.databaseUrl, options);
    const file = options.databasePath;
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    const handle = new SqliteHandle(file);
    handle.pragma("journal_mode = WAL");
    handle.pragma("foreign_keys = ON");
    handle.pragma("busy_timeout = 5000");
    handle.pragma("synchronous = NORMAL");
    return new Database<DB>("sqlite", null, new ImmediateSqliteDialect(handle), handle);
  }

  private static openPostgres<DB>(url: string, options: OpenDatabaseOptions): Database<DB> {
    // Service names may hold hyphens (gift-cards); schema names stay unquoted identifiers.
    const schema = `${options.databaseSchemaPrefix ?? ""}${options.service.replaceAll("-", "_")}`;
    if (!SCHEMA_NAME.test(schema)) {
      throw new TypeError(`schema name "${schema}" must be lower-case letters, digits and _ (at most 63)`);
    }
    const pg = loadPg();
    const pool = new pg.Pool({
      connectionString: url,
      max: options.databasePoolSize ?? 10,
      // Every connection resolves unqualified table names in the service's own schema, so the
      // queries are the same text on both engines.
      options: `-c search_path=${schema}`,
      // COUNT and SUM are bigint in PostgreSQL; the values here stay far below 2^53.
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC
            ? (value: string) => Number(value)
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // A connection that dies while idle must not take the process down; the next query reconnects.
    pool.on("error", (error) => options.logger?.warn({ err: error }, "idle PostgreSQL connection failed"));
    return new Database<DB>("postgres", schema, new PostgresDialect({ pool }), null);
  }

  /** Runs `fn` in one transaction: all of it is written, or none of it. Inside, use only `trx`. */
  transaction<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return this.kysely.transaction().execute(fn);
  }

  /**
   * Serialises the transactions that take the same `key` until they end. SQLite already runs one
   * writer at a time (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped advisory lock.
   */
  async lock(trx: Transaction<DB>, key: string): Promise<void> {
    if (this.engine !== "postgres") return;
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${this.schema}:${key}`}, 0))`.execute(trx);
  }

  /** Rows of a raw statement, written with Kysely's `sql` tag so that parameters fit the engine. */
  async all<T>(query: RawBuilder<unknown>): Promise<T[]> {
    return (await query.execute(this.kysely)).rows as T[];
  }

  /** The first row of a raw statement, if any. */
  async get<T>(query: RawBuilder<unknown>): Promise<T | undefined> {
    return (await this.all<T>(query))[0];
  }

  /** Runs a raw statement; returns how many rows it changed. */
  async run(query: RawBuilder<unknown>): Promise<number> {
    return Number((await query.execute(this.kysely)).numAffectedRows ?? 0);
  }

  /** Applies the migrations not yet recorded in `schema_migrations`; returns their versions. */
  async migrate(migrations: readonly Migration[]): Promise<number[]> {
    const ordered = [...migrations].sort((a, b) => a.version - b.version);
    return this.sqlite ? migrateSqlite(this.sqlite, ordered) : this.migratePostgres(ordered);
  }

  /**
   * One transaction for the whole upgrade, holding a lock per schema: instances starting together
   * on one database wait for the first to migrate, then find nothing left to do.
   */
  private migratePostgres(migrations: readonly Migration[]): Promise<number[]> {
    return this.kysely.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`migrate:${this.schema}`}, 0))`.execute(trx);
      await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(this.schema!)}`.execute(trx);
      await sql`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`.execute(
        trx,
      );
      const { rows } = await sql<{ version: number }>`SELECT version FROM schema_migrations`.execute(trx);
      const done = new Set(rows.map((row) => row.version));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        // No parameters: PostgreSQL's simple protocol runs the several statements of a migration.
        await sql.raw(m.postgres).execute(trx);
        await sql`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${m.version}, ${m.name}, ${new Date().toISOString()})`.execute(
          trx,
        );
        applied.push(m.version);
      }
      return applied;
    });
  }

  async close(): Promise<void> {
    await this.kysely.destroy();
  }
}

/** better-sqlite3 directly: `exec` runs a migration's several statements, which a prepared query cannot. */
function migrateSqlite(handle: SqliteHandle.Database, migrations: readonly Migration[]): number[] {
  handle.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
  );
  const done = new Set(
    handle
      .prepare("SELECT version FROM schema_migrations")
      .all()
      .map((row) => (row as { version: number }).version),
  );
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    handle
      .transaction(() => {
        handle.exec(m.sqlite);
        handle
          .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
          .run(m.version, m.name, new Date().toISOString());
      })
      .immediate();
    applied.push(m.version);
  }
  return applied;
}
