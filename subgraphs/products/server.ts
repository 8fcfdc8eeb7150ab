import { openDatabase } from "../kit/database.ts";
import {
  buildOrRelease,
  createSubgraphService,
  loadTypeDefs,
  type ServiceOptions,
  type SubgraphService,
} from "../kit/server.ts";
import type { Database } from "../shared/db.ts";
import { startPeriodicTask } from "../shared/periodic.ts";
import { createProductLoaders } from "./loaders.ts";
import { migrations, type ProductsTables } from "./migrations.ts";
import { SqlProductRepository } from "./repository.ts";
import { createProductResolvers } from "./resolvers.ts";
import { seedProducts } from "./seed.ts";

export interface ProductsServiceOptions extends ServiceOptions {
  /** Inserts the missing catalogue products at start-up. @default true */
  seed?: boolean;
  /**
   * How long stock reserved for an order stays held until the order claims it; past that, a
   * sweep gives it back (an order process that died between reserving and placing never will).
   * @default 300 (RESERVATION_TTL_SECONDS)
   */
  reservationTtlSeconds?: number;
}

export type ProductsService = SubgraphService & {
  /** The service's database; tests read `queryCount` and adjust stock through it. */
  readonly db: Database<ProductsTables>;
  /** Gives back every expired reservation now; resolves with how many (tests call it instead of waiting a sweep). */
  expireReservations(): Promise<number>;
};

/** Sweeps often enough that an expired hold is back on sale within a quarter of its lifetime, at most 30 s late. */
const sweepIntervalMs = (ttlMs: number) => Math.max(250, Math.min(ttlMs / 4, 30_000));

/** Builds the products subgraph (catalogue and stock) without listening. */
export async function createProductsService(options: ProductsServiceOptions): Promise<ProductsService> {
  const db = await openDatabase<ProductsTables>("products", options, migrations);
  return buildOrRelease(
    () => db.close(),
    async () => {
      if (options.seed ?? true) await seedProducts(db);
      const reservationTtlMs = (options.reservationTtlSeconds ?? 300) * 1000;
      const repository = new SqlProductRepository(db, { reservationTtlMs });
      const sweeper = startPeriodicTask({
        name: "reservation expiry",
        intervalMs: sweepIntervalMs(reservationTtlMs),
        run: () => repository.expireDue(),
        logger: options.logger,
      });
      const service = await createSubgraphService({
        ...options,
        name: "products",
        typeDefs: loadTypeDefs(import.meta.url),
        resolvers: createProductResolvers(repository),
        createLoaders: () => createProductLoaders(repository),
        onClose: async () => {
          await sweeper.stop();
          await db.close();
        },
      });
      return Object.assign(service, { db, expireReservations: () => sweeper.runNow() });
    },
  );
}
