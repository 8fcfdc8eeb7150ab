import DataLoader from "dataloader";
import type { UserRecord, UsersRepository } from "./repository.ts";

export interface UsersLoaders {
  /** Users by id, batched into one query per tick; null for an unknown id. */
  userById: DataLoader<string, UserRecord | null>;
}

/** Bounds the IN list, and with it the number of distinct cached statements. */
const MAX_BATCH = 100;

/** Builds fresh loaders for one request, so cached rows never outlive it or reach another caller. */
export function createLoaders(users: UsersRepository): UsersLoaders {
  return {
    userById: new DataLoader(
      async (ids) => {
        const rows = await users.findByIds(ids);
        const byId = new Map(rows.map((row) => [row.id, row]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: MAX_BATCH },
    ),
  };
}
