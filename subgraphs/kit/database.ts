import { Database, type Migration, type OpenDatabaseOptions } from "../shared/db.ts";

/**
 * The one way a service opens its store: SQLite at `databasePath`, or the schema
 * `databaseSchemaPrefix` + `service` in PostgreSQL when `databaseUrl` is set. Applies the pending
 * `migrations` and closes the store again if that fails. A service's options (a `ServiceConfig`
 * spread into them) carry all the settings it reads.
 */
export async function openDatabase<DB>(
  service: string,
  options: Omit<OpenDatabaseOptions, "service">,
  migrations: readonly Migration[],
): Promise<Database<DB>> {
  const db = Database.open<DB>({ ...options, service });
  try {
    await db.migrate(migrations);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
