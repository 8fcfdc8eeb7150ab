import { openDatabase } from "../kit/database.ts";
import {
  buildOrRelease,
  createSubgraphService,
  loadTypeDefs,
  type ServiceOptions,
  type SubgraphService,
} from "../kit/server.ts";
import { createServiceClient, signerOf } from "../kit/service-client.ts";
import type { Database } from "../shared/db.ts";
import { createProductsInventory } from "./inventory.ts";
import { createOrderLoaders } from "./loaders.ts";
import { migrations, type OrdersTables } from "./migrations.ts";
import { SqlOrderRepository } from "./repository.ts";
import { createOrderResolvers } from "./resolvers.ts";

export interface OrdersServiceOptions extends ServiceOptions {
  /** GraphQL endpoint of the products subgraph, which holds stock and prices (instances separated by `|`). */
  productsUrl: string;
}

export type OrdersService = SubgraphService & {
  /** The service's database; tests read `queryCount` and the tables through it. */
  readonly db: Database<OrdersTables>;
};

/** Builds the orders subgraph without listening. Orders reserve stock through the products service. */
export async function createOrdersService(options: OrdersServiceOptions): Promise<OrdersService> {
  const db = await openDatabase<OrdersTables>("orders", options, migrations);
  const products = createServiceClient({
    url: options.productsUrl,
    peer: "products",
    signer: signerOf(options.identityKeys, "orders"),
  });
  const release = async () => {
    await products.close();
    await db.close();
  };
  return buildOrRelease(release, async () => {
    const repository = new SqlOrderRepository(db);
    const service = await createSubgraphService({
      ...options,
      name: "orders",
      typeDefs: loadTypeDefs(import.meta.url),
      resolvers: createOrderResolvers({ repository, inventory: createProductsInventory(products) }),
      createLoaders: () => createOrderLoaders(repository),
      onClose: release,
    });
    return Object.assign(service, { db });
  });
}
