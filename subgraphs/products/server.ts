import { openDatabase } from "../kit/database.ts";
import {
  buildOrRelease,
  createSubgraphService,
  loadTypeDefs,
  type ServiceOptions,
  type SubgraphService,
} from "../kit/server.ts";
import type { SqliteDatabase } from "../shared/db.ts";
import { createProductLoaders } from "./loaders.ts";
import { migrations } from "./migrations.ts";
import { SqliteProductRepository } from "./repository.ts";
import { createProductResolvers } from "./resolvers.ts";
import { seedProducts } from "./seed.ts";

export interface ProductsServiceOptions extends ServiceOptions {
  /** Inserts the missing catalogue products at start-up. @default true */
  seed?: boolean;
}

export type ProductsService = SubgraphService & {
  /** The service's database; tests read `queryCount` and adjust stock through it. */
  readonly db: SqliteDatabase;
};

/** Builds the products subgraph (catalogue and stock) without listening. */
export async function createProductsService(options: ProductsServiceOptions): Promise<ProductsService> {
  const db = openDatabase(options.databasePath, migrations);
  return buildOrRelease(
    () => db.close(),
    async () => {
      if (options.seed ?? true) seedProducts(db);
      const repository = new SqliteProductRepository(db);
      const service = await createSubgraphService({
        ...options,
        name: "products",
        typeDefs: loadTypeDefs(import.meta.url),
        resolvers: createProductResolvers(repository),
        createLoaders: () => createProductLoaders(repository),
        onClose: () => db.close(),
      });
      return Object.assign(service, { db });
    },
  );
}
