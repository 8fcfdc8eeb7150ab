import { pino } from "pino";
import { createProviderSandbox } from "../../sandbox/server.ts";
import { composeSupergraph, DEFAULT_CONFIG, readSupergraphConfig } from "../../schema/compose.ts";
import { createOrdersService } from "../../subgraphs/orders/server.ts";
import { createPaymentsService } from "../../subgraphs/payments/server.ts";
import { createProductsService } from "../../subgraphs/products/server.ts";
import { createUsersService, type UsersServiceOptions } from "../../subgraphs/users/server.ts";
import { testDatabase } from "./database.ts";
import { createTestIdentityKeys, type TestIdentityKeys } from "./identity.ts";

export const silent = pino({ level: "silent" });

export interface Services {
  users: Awaited<ReturnType<typeof createUsersService>>;
  products: Awaited<ReturnType<typeof createProductsService>>;
  orders: Awaited<ReturnType<typeof createOrdersService>>;
  payments: Awaited<ReturnType<typeof createPaymentsService>>;
  sandbox: Awaited<ReturnType<typeof createProviderSandbox>>;
  subgraphUrls: Record<"users" | "products" | "orders" | "payments", string>;
  /** This run's identity keys: the gateway's environment (`identity.gatewayEnv`), signing as anyone. */
  identity: TestIdentityKeys;
  /** A supergraph composed from the repository's schemas, routing to these services. */
  supergraphSdl: string;
  close(): Promise<void>;
}

/** Composes the repository's subgraph schemas with the given routing URLs. */
export function composeFor(urls: Record<string, string>): string {
  const sources = readSupergraphConfig(DEFAULT_CONFIG).map((s) => ({ ...s, url: urls[s.name] ?? s.url }));
  return composeSupergraph(sources);
}

export interface ServicesOptions {
  /** More options for the users service (OAuth clients, token lifetimes). @default none */
  users?: Partial<Omit<UsersServiceOptions, "databasePath" | "databaseUrl" | "identityKeys">>;
}

/**
 * Starts the four subgraphs and the provider sandbox for real, each on port 0 with a fresh store
 * (SQLite in memory, or PostgreSQL schemas of their own when DATABASE_URL is set) and fresh
 * identity keys for the gateway and each signing service. Always `close()` them.
 */
export async function startServices(options: ServicesOptions = {}): Promise<Services> {
  const identity = createTestIdentityKeys();
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => {});
  };
  try {
    const sandbox = await createProviderSandbox({ apiKey: "sk_test_stack", logger: silent });
    const sandboxUrl = await sandbox.listen(0);
    closers.push(() => sandbox.close());

    const common = { ...testDatabase(), logger: silent };
    const users = await createUsersService({ ...common, identityKeys: identity.forService("users"), ...options.users });
    const usersUrl = await users.listen(0);
    closers.push(() => users.close());
    const products = await createProductsService({ ...common, identityKeys: identity.forService("products") });
    const productsUrl = await products.listen(0);
    closers.push(() => products.close());
    const orders = await createOrdersService({ ...common, identityKeys: identity.forService("orders"), productsUrl });
    const ordersUrl = await orders.listen(0);
    closers.push(() => orders.close());
    const payments = await createPaymentsService({
      ...common,
      identityKeys: identity.forService("payments"),
      ordersUrl,
      provider: { url: sandboxUrl, apiKey: "sk_test_stack" },
    });
    const paymentsUrl = await payments.listen(0);
    closers.push(() => payments.close());

    const subgraphUrls = { users: usersUrl, products: productsUrl, orders: ordersUrl, payments: paymentsUrl };
    return {
      users,
      products,
      orders,
      payments,
      sandbox,
      subgraphUrls,
      identity,
      supergraphSdl: composeFor(subgraphUrls),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
