import { type Migration, SqliteDatabase } from "../shared/db.ts";

/** Opens a service's database and brings its schema up to date; closes it again if that fails. */
export function openDatabase(path: string, migrations: readonly Migration[]): SqliteDatabase {
  const db = new SqliteDatabase(path);
  try {
    db.migrate(migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
