import { openDatabase } from "../kit/database.ts";
import {
  buildOrRelease,
  createSubgraphService,
  loadTypeDefs,
  type ServiceOptions,
  type SubgraphService,
} from "../kit/server.ts";
import { signerOf } from "../kit/service-client.ts";
import type { Database } from "../shared/db.ts";
import { type PeriodicTask, startPeriodicTask } from "../shared/periodic.ts";
import { createPaymentLoaders } from "./loaders.ts";
import { migrations, type PaymentsTables } from "./migrations.ts";
import { createOrdersClient } from "./orders-client.ts";
import { createPaymentProvider, type PaymentProviderOptions } from "./provider.ts";
import { reconcilePayment } from "./reconcile.ts";
import { SqlPaymentRepository } from "./repository.ts";
import { createPaymentResolvers } from "./resolvers.ts";

export interface PaymentsServiceOptions extends ServiceOptions {
  /** GraphQL endpoint of the orders subgraph, called peer to peer to read and mark orders (instances separated by `|`). */
  ordersUrl: string;
  /** The Stripe-compatible provider: the sandbox in development, a real one by URL and key. */
  provider: Omit<PaymentProviderOptions, "logger">;
  /**
   * How long a payment being charged keeps other idempotency keys from charging the same order.
   * @default 60_000
   */
  processingLeaseMs?: number;
  /**
   * How often PROCESSING payments (left so by a process that died mid-charge) are settled with
   * the provider; the first pass runs at start-up. @default 30_000
   */
  reconcileIntervalMs?: number;
}

export type PaymentsService = SubgraphService & {
  /** The service's database; tests read `queryCount` through it. */
  readonly db: Database<PaymentsTables>;
  /** Runs a reconciliation pass now; resolves with how many payments it settled. */
  reconcilePayments(): Promise<number>;
};

/** A payment PROCESSING for longer than this is looked up with the provider in the background. */
const RECONCILE_AFTER_MS = 5_000;

function requireHttpUrl(name: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${name} must be an absolute http(s) URL, got "${value}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${name} must be an http(s) URL, got "${value}"`);
  }
}

/** Builds the payments subgraph (charges through the provider, marks orders paid) without listening. */
export async function createPaymentsService(options: PaymentsServiceOptions): Promise<PaymentsService> {
  for (const url of options.ordersUrl.split("|")) requireHttpUrl("ordersUrl", url.trim());
  requireHttpUrl("provider.url", options.provider.url);
  if (!options.provider.apiKey) throw new TypeError("provider.apiKey must not be empty");

  const db = await openDatabase<PaymentsTables>("payments", options, migrations);
  const orders = createOrdersClient({
    url: options.ordersUrl,
    signer: signerOf(options.identityKeys, "payments"),
    logger: options.logger,
  });
  const provider = createPaymentProvider({ ...options.provider, logger: options.logger });
  let reconciler: PeriodicTask | undefined;
  const release = async () => {
    await reconciler?.stop();
    await Promise.allSettled([orders.close(), provider.close()]);
    await db.close();
  };
  return buildOrRelease(release, async () => {
    const repository = new SqlPaymentRepository(db, { processingLeaseMs: options.processingLeaseMs });
    reconciler = startPeriodicTask({
      name: "payment reconciliation",
      intervalMs: options.reconcileIntervalMs ?? 30_000,
      logger: options.logger,
      run: async () => {
        // Only what no live request is still charging: younger rows are in someone's hands.
        const stuck = await repository.findProcessing(new Date(Date.now() - RECONCILE_AFTER_MS), 100);
        let settled = 0;
        for (const payment of stuck) {
          const reconciled = await reconcilePayment(payment, repository, provider);
          if (!reconciled) continue;
          if (reconciled.status === "SUCCEEDED") await orders.markOrderPaid(reconciled.orderId, reconciled.id);
          settled++;
        }
        return settled;
      },
    });
    const service = await createSubgraphService({
      ...options,
      name: "payments",
      typeDefs: loadTypeDefs(import.meta.url),
      resolvers: createPaymentResolvers({ repository, orders, provider }),
      createLoaders: () => createPaymentLoaders(repository),
      onClose: release,
    });
    const pass = reconciler;
    return Object.assign(service, { db, reconcilePayments: () => pass.runNow() });
  });
}
