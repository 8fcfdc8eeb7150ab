import type { Logger } from "pino";
import { type Database, type DatabaseOptions, openDatabase } from "../shared/db.ts";
import { createSubgraphService, loadTypeDefs, type SubgraphService } from "../shared/server.ts";
import { createProductLoaders } from "./loaders.ts";
import { migrations, type ProductsTables } from "./migrations.ts";
import { SqlProductRepository } from "./repository.ts";
import { createProductResolvers } from "./resolvers.ts";
import { seedProducts } from "./seed.ts";

export interface ProductsServiceOptions extends DatabaseOptions {
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
  readonly db: Database<ProductsTables>;
};

/** Builds the products subgraph (catalogue and stock) without listening. */
export async function createProductsService(options: ProductsServiceOptions): Promise<ProductsService> {
  const db = await openDatabase<ProductsTables>({ ...options, service: "products", migrations });
  try {
    if (options.seed ?? true) await seedProducts(db);
    const repository = new SqlProductRepository(db);
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
    await db.close();
    throw error;
  }
}
