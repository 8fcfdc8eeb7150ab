import DataLoader from "dataloader";
import type { ProductRecord, ProductRepository } from "./repository.ts";

export interface ProductLoaders {
  /** Product by id, null when unknown. Every reference in one request is fetched in one query. */
  product: DataLoader<string, ProductRecord | null>;
}

/** Bounds the IN list of one query; larger batches split into several. */
const MAX_BATCH = 500;

export function createProductLoaders(repository: ProductRepository): ProductLoaders {
  return {
    product: new DataLoader(
      async (ids) => {
        const byId = new Map((await repository.findByIds(ids)).map((p) => [p.id, p]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: MAX_BATCH },
    ),
  };
}
