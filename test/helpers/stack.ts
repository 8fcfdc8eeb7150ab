import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { composeSupergraph, DEFAULT_CONFIG, readSupergraphConfig } from "../../schema/compose.ts";
import { createOrdersService } from "../../subgraphs/orders/server.ts";
import { createProviderSandbox } from "../../subgraphs/payments/sandbox/server.ts";
import { createPaymentsService } from "../../subgraphs/payments/server.ts";
import { createProductsService } from "../../subgraphs/products/server.ts";
import { createUsersService } from "../../subgraphs/users/server.ts";

export const silent = pino({ level: "silent" });

export interface GraphQLResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: T | null;
    errors?: {
      message: string;
      path?: (string | number)[];
      extensions?: { code?: string } & Record<string, unknown>;
    }[];
  };
}

export interface Stack {
  /** Gateway base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  gateway: Gateway;
  users: Awaited<ReturnType<typeof createUsersService>>;
  products: Awaited<ReturnType<typeof createProductsService>>;
  orders: Awaited<ReturnType<typeof createOrdersService>>;
  payments: Awaited<ReturnType<typeof createPaymentsService>>;
  sandbox: Awaited<ReturnType<typeof createProviderSandbox>>;
  subgraphUrls: Record<"users" | "products" | "orders" | "payments", string>;
  internalSecret: string;
  supergraphPath: string;
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<GraphQLResult<T>>;
  login(email: string, password: string): Promise<string>;
  close(): Promise<void>;
}

/** Composes the repository's subgraph schemas with the given routing URLs. */
export function composeFor(urls: Record<string, string>): string {
  const sources = readSupergraphConfig(DEFAULT_CONFIG).map((s) => ({ ...s, url: urls[s.name] ?? s.url }));
  return composeSupergraph(sources);
}

/**
 * Starts every service of the shop for real, each on port 0 with an in-memory database, and the
 * gateway over a supergraph composed with their actual URLs. Always `close()` it.
 */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const internalSecret = randomBytes(32).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), "stack-"));
  const closers: (() => Promise<void>)[] = [];
  try {
    const sandbox = await createProviderSandbox({ apiKey: "sk_test_stack", logger: silent });
    const sandboxUrl = await sandbox.listen(0);
    closers.push(() => sandbox.close());

    const common = { databasePath: ":memory:", internalSecret, logger: silent };
    const users = await createUsersService({ ...common });
    const usersUrl = await users.listen(0);
    closers.push(() => users.close());
    const products = await createProductsService({ ...common });
    const productsUrl = await products.listen(0);
    closers.push(() => products.close());
    const orders = await createOrdersService({ ...common, productsUrl });
    const ordersUrl = await orders.listen(0);
    closers.push(() => orders.close());
    const payments = await createPaymentsService({
      ...common,
      ordersUrl,
      provider: { url: sandboxUrl, apiKey: "sk_test_stack" },
    });
    const paymentsUrl = await payments.listen(0);
    closers.push(() => payments.close());

    const subgraphUrls = { users: usersUrl, products: productsUrl, orders: ordersUrl, payments: paymentsUrl };
    const supergraphPath = join(dir, "supergraph.graphql");
    writeFileSync(supergraphPath, composeFor(subgraphUrls));

    const config = loadConfig({
      INTERNAL_SECRET: internalSecret,
      SUPERGRAPH_PATH: supergraphPath,
      PORT: "0",
      LOG_LEVEL: "silent",
      ...env,
    });
    const gateway = await createGateway(config, { logger: silent });
    const url = await gateway.listen(0);
    closers.push(() => gateway.close());

    const graphql = async <T = Record<string, unknown>>(
      query: string,
      variables: Record<string, unknown> = {},
      token?: string,
    ): Promise<GraphQLResult<T>> => {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token !== undefined && { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as GraphQLResult<T>["body"] };
    };
    const login = async (email: string, password: string) => {
      const res = await graphql<{ login: { token: string } }>(
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        { e: email, p: password },
      );
      if (!res.body.data?.login) throw new Error(`login failed: ${JSON.stringify(res.body.errors)}`);
      return res.body.data.login.token;
    };

    return {
      url,
      gateway,
      users,
      products,
      orders,
      payments,
      sandbox,
      subgraphUrls,
      internalSecret,
      supergraphPath,
      graphql,
      login,
      async close() {
        for (const close of closers.reverse()) await close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
