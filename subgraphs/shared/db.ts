import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";

/** One forward-only schema change. Versions are applied in order, each exactly once. */
export interface Migration {
  version: number;
  name: string;
  up: string;
}

type Params = readonly unknown[] | Record<string, unknown>;

/**
 * A thin SQLite handle for the data-access layer: cached prepared statements, parameterised
 * queries only, and a query counter so tests can prove batching (one query for N entities).
 */
export class SqliteDatabase {
  readonly raw: Database.Database;
  /** Statements executed since open; read by tests and metrics. */
  queryCount = 0;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(file: string) {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    this.raw = new Database(file);
    this.raw.pragma("journal_mode = WAL");
    this.raw.pragma("foreign_keys = ON");
    this.raw.pragma("busy_timeout = 5000");
    this.raw.pragma("synchronous = NORMAL");
  }

  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.raw.prepare(sql);
      this.statements.set(sql, stmt);
    }
    this.queryCount++;
    return stmt;
  }

  all<T>(sql: string, params: Params = []): T[] {
    return this.statement(sql).all(params as unknown[]) as T[];
  }

  get<T>(sql: string, params: Params = []): T | undefined {
    return this.statement(sql).get(params as unknown[]) as T | undefined;
  }

  run(sql: string, params: Params = []): Database.RunResult {
    return this.statement(sql).run(params as unknown[]);
  }

  /** Runs `fn` in one IMMEDIATE transaction: all of it is written, or none of it. */
  transaction<T>(fn: () => T): T {
    return this.raw.transaction(fn).immediate();
  }

  /** Applies the migrations not yet recorded in `schema_migrations`, each in its own transaction. */
  migrate(migrations: readonly Migration[]): number[] {
    this.raw.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    );
    const done = new Set(
      this.raw
        .prepare("SELECT version FROM schema_migrations")
        .all()
        .map((row) => (row as { version: number }).version),
    );
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      this.raw.transaction(() => {
        this.raw.exec(m.up);
        this.raw
          .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
          .run(m.version, m.name, new Date().toISOString());
      })();
      applied.push(m.version);
    }
    return applied;
  }

  close(): void {
    this.statements.clear();
    if (this.raw.open) this.raw.close();
  }
}

/** SQL placeholders for an IN list: `inList(3)` is `?, ?, ?`. */
export function inList(count: number): string {
  return new Array(count).fill("?").join(", ");
}
