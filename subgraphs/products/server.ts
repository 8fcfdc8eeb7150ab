import { openDatabase } from "../kit/database.ts";
import {
  buildOrRelease,
  createSubgraphService,
  loadTypeDefs,
  type ServiceOptions,
  type SubgraphService,
} from "../kit/server.ts";
import type { Database } from "../shared/db.ts";
import { createProductLoaders } from "./loaders.ts";
import { migrations, type ProductsTables } from "./migrations.ts";
import { SqlProductRepository } from "./repository.ts";
import { createProductResolvers } from "./resolvers.ts";
import { seedProducts } from "./seed.ts";

export interface ProductsServiceOptions extends ServiceOptions {
  /** Inserts the missing catalogue products at start-up. @default true */
  seed?: boolean;
}

export type ProductsService = SubgraphService & {
  /** The service's database; tests read `queryCount` and adjust stock through it. */
  readonly db: Database<ProductsTables>;
};

/** Builds the products subgraph (catalogue and stock) without listening. */
export async function createProductsService(options: ProductsServiceOptions): Promise<ProductsService> {
  const db = await openDatabase<ProductsTables>("products", options, migrations);
  return buildOrRelease(
    () => db.close(),
    async () => {
      if (options.seed ?? true) await seedProducts(db);
      const repository = new SqlProductRepository(db);
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
