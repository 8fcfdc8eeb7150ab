import type { Logger } from "pino";
import { type Database, type DatabaseOptions, openDatabase } from "../shared/db.ts";
import { createSubgraphService, loadTypeDefs, type SubgraphService } from "../shared/server.ts";
import { createServiceClient } from "../shared/service-client.ts";
import { createProductsInventory } from "./inventory.ts";
import { createOrderLoaders } from "./loaders.ts";
import { migrations, type OrdersTables } from "./migrations.ts";
import { SqlOrderRepository } from "./repository.ts";
import { createOrderResolvers } from "./resolvers.ts";

export interface OrdersServiceOptions extends DatabaseOptions {
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
  readonly db: Database<OrdersTables>;
};

/** Builds the orders subgraph without listening. Orders reserve stock through the products service. */
export async function createOrdersService(options: OrdersServiceOptions): Promise<OrdersService> {
  const db = await openDatabase<OrdersTables>({ ...options, service: "orders", migrations });
  const products = createServiceClient({
    url: options.productsUrl,
    service: "orders",
    internalSecret: options.internalSecret,
  });
  const release = async () => {
    await products.close();
    await db.close();
  };
  try {
    const repository = new SqlOrderRepository(db);
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
