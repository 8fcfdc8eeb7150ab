import type { Logger } from "pino";
import { SqliteDatabase } from "../shared/db.ts";
import { createSubgraphService, loadTypeDefs, type SubgraphService } from "../shared/server.ts";
import { createServiceClient } from "../shared/service-client.ts";
import { createProductsInventory } from "./inventory.ts";
import { createOrderLoaders } from "./loaders.ts";
import { migrations } from "./migrations.ts";
import { SqliteOrderRepository } from "./repository.ts";
import { createOrderResolvers } from "./resolvers.ts";

export interface OrdersServiceOptions {
  /** SQLite file, or ":memory:" for throw-away orders. */
  databasePath: string;
  /** Shared secret that verifies incoming identity tokens and signs this service's calls to products. */
  internalSecret: string;
  /** GraphQL endpoint of the products subgraph, which holds stock and prices. */
  productsUrl: string;
  /** Hides stack traces and introspection. @default false */
  production?: boolean;
  /** @default a pino logger at LOG_LEVEL */
  logger?: Logger;
}

export type OrdersService = SubgraphService & {
  /** The service's database; tests read `queryCount` and the tables through it. */
  readonly db: SqliteDatabase;
};

/** Builds the orders subgraph without listening. Orders reserve stock through the products service. */
export async function createOrdersService(options: OrdersServiceOptions): Promise<OrdersService> {
  const db = new SqliteDatabase(options.databasePath);
  const products = createServiceClient({
    url: options.productsUrl,
    service: "orders",
    internalSecret: options.internalSecret,
  });
  const release = async () => {
    await products.close();
    db.close();
  };
  try {
    db.migrate(migrations);
    const repository = new SqliteOrderRepository(db);
    const service = await createSubgraphService({
      name: "orders",
      typeDefs: loadTypeDefs(import.meta.url),
      resolvers: createOrderResolvers({ repository, inventory: createProductsInventory(products) }),
      createLoaders: () => createOrderLoaders(repository),
      internalSecret: options.internalSecret,
      production: options.production,
      logger: options.logger,
      onClose: release,
    });
    return Object.assign(service, { db });
  } catch (error) {
    await release();
    throw error;
  }
}
