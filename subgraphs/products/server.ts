import type { Logger } from "pino";
import { SqliteDatabase } from "../shared/db.ts";
import { createSubgraphService, loadTypeDefs, type SubgraphService } from "../shared/server.ts";
import { createProductLoaders } from "./loaders.ts";
import { migrations } from "./migrations.ts";
import { SqliteProductRepository } from "./repository.ts";
import { createProductResolvers } from "./resolvers.ts";
import { seedProducts } from "./seed.ts";

export interface ProductsServiceOptions {
  /** SQLite file, or ":memory:" for a throw-away catalogue. */
  databasePath: string;
  /** Shared secret that verifies identity tokens from the gateway and peer services. */
  internalSecret: string;
  /** Hides stack traces and introspection. @default false */
  production?: boolean;
  /** @default a pino logger at LOG_LEVEL */
  logger?: Logger;
  /** Inserts the missing catalogue products at start-up. @default true */
  seed?: boolean;
}

export type ProductsService = SubgraphService & {
  /** The service's database; tests read `queryCount` and adjust stock through it. */
  readonly db: SqliteDatabase;
};

/** Builds the products subgraph (catalogue and stock) without listening. */
export async function createProductsService(options: ProductsServiceOptions): Promise<ProductsService> {
  const db = new SqliteDatabase(options.databasePath);
  try {
    db.migrate(migrations);
    if (options.seed ?? true) seedProducts(db);
    const repository = new SqliteProductRepository(db);
    const service = await createSubgraphService({
      name: "products",
      typeDefs: loadTypeDefs(import.meta.url),
      resolvers: createProductResolvers(repository),
      createLoaders: () => createProductLoaders(repository),
      internalSecret: options.internalSecret,
      production: options.production,
      logger: options.logger,
      onClose: () => db.close(),
    });
    return Object.assign(service, { db });
  } catch (error) {
    db.close();
    throw error;
  }
}
