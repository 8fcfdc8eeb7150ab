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
import { type PeriodicTask, startPeriodicTask } from "../shared/periodic.ts";
import { createProductsInventory } from "./inventory.ts";
import { createOrderLoaders } from "./loaders.ts";
import { migrations, type OrdersTables } from "./migrations.ts";
import { SqlOrderRepository } from "./repository.ts";
import { claimStock, createOrderResolvers, reservationExpired } from "./resolvers.ts";

export interface OrdersServiceOptions extends ServiceOptions {
  /** GraphQL endpoint of the products subgraph, which holds stock and prices (instances separated by `|`). */
  productsUrl: string;
  /**
   * How often orders whose stock claim did not get through (the products service was down, or
   * this process died) claim it again. @default 15_000
   */
  claimRetryMs?: number;
}

export type OrdersService = SubgraphService & {
  /** The service's database; tests read `queryCount` and the tables through it. */
  readonly db: Database<OrdersTables>;
  /** Runs a pass of the periodic stock claim now; resolves with how many orders it settled. */
  claimPendingStock(): Promise<number>;
};

/** Builds the orders subgraph without listening. Orders reserve stock through the products service. */
export async function createOrdersService(options: OrdersServiceOptions): Promise<OrdersService> {
  const db = await openDatabase<OrdersTables>("orders", options, migrations);
  const products = createServiceClient({
    url: options.productsUrl,
    peer: "products",
    signer: signerOf(options.identityKeys, "orders"),
  });
  let claims: PeriodicTask | undefined;
  const release = async () => {
    await claims?.stop();
    await products.close();
    await db.close();
  };
  return buildOrRelease(release, async () => {
    const repository = new SqlOrderRepository(db);
    const inventory = createProductsInventory(products);
    claims = startPeriodicTask({
      name: "stock claim",
      intervalMs: options.claimRetryMs ?? 15_000,
      logger: options.logger,
      run: async () => {
        let settled = 0;
        for (const orderId of await repository.findUnclaimed(100)) {
          try {
            if (await claimStock(inventory, repository, orderId)) settled++;
          } catch (error) {
            if (!reservationExpired(error)) throw error;
            options.logger?.warn({ orderId }, "order cancelled: its stock reservation expired before it was claimed");
            settled++;
          }
        }
        return settled;
      },
    });
    const service = await createSubgraphService({
      ...options,
      name: "orders",
      typeDefs: loadTypeDefs(import.meta.url),
      resolvers: createOrderResolvers({ repository, inventory }),
      createLoaders: () => createOrderLoaders(repository),
      onClose: release,
    });
    const pass = claims;
    return Object.assign(service, { db, claimPendingStock: () => pass.runNow() });
  });
}
