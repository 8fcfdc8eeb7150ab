import { randomBytes } from "node:crypto";
import pg from "pg";
import type { DatabaseOptions } from "../../subgraphs/shared/db.ts";

/**
 * The engine under test: PostgreSQL when DATABASE_URL is set (a missing server then fails the
 * tests, it never skips them), the embedded SQLite otherwise.
 */
export const DATABASE_URL = process.env.DATABASE_URL || undefined;
export const engine = DATABASE_URL ? "postgres" : "sqlite";

/** Every schema this process creates starts with this: the run's prefix, then one of its own. */
const processPrefix = `${process.env.DATABASE_SCHEMA_PREFIX || "t_"}${randomBytes(4).toString("hex")}_`;
let stores = 0;
let cleanupRegistered = false;

/**
 * A fresh, empty store for the services of one test: SQLite at `databasePath` (in memory unless
 * given), or on PostgreSQL schemas under a prefix no other test shares. Pass the same options to
 * a second service instance to give it the same data (a restart, a replica).
 */
export function testDatabase(databasePath = ":memory:"): DatabaseOptions {
  if (!DATABASE_URL) return { databasePath };
  registerCleanup();
  return { databasePath, databaseUrl: DATABASE_URL, databaseSchemaPrefix: `${processPrefix}${++stores}_` };
}

/** The same as environment variables, for services started as processes. */
export function testDatabaseEnv(): Record<string, string> {
  const options = testDatabase();
  return options.databaseUrl
    ? { DATABASE_URL: options.databaseUrl, DATABASE_SCHEMA_PREFIX: options.databaseSchemaPrefix! }
    : {};
}

/** Drops every schema whose name starts with `prefix`; returns how many. */
export async function dropSchemas(url: string, prefix: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)",
      [prefix],
    );
    for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    return rows.length;
  } finally {
    await client.end();
  }
}

/** Once the test file is done (every service closed, the event loop idle), its schemas go. */
function registerCleanup(): void {
  if (cleanupRegistered || !DATABASE_URL) return;
  cleanupRegistered = true;
  process.once("beforeExit", () => {
    dropSchemas(DATABASE_URL!, processPrefix).catch((error: unknown) => {
      console.error(`could not drop test schemas ${processPrefix}*: ${error}`);
    });
  });
}
