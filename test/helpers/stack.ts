import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { composeFor, type Services, type ServicesOptions, silent, startServices } from "./services.ts";

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
  users: Services["users"];
  products: Services["products"];
  orders: Services["orders"];
  payments: Services["payments"];
  sandbox: Services["sandbox"];
  subgraphUrls: Services["subgraphUrls"];
  /** This run's identity keys (see helpers/identity.ts). */
  identity: Services["identity"];
  supergraphPath: string;
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<GraphQLResult<T>>;
  login(email: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export { composeFor, silent };

export interface StackOptions extends ServicesOptions {
  /**
   * Opaque OAuth tokens: the users service gets an introspection client (`gateway`, random secret)
   * and the gateway INTROSPECTION_URL/_CLIENT_ID/_CLIENT_SECRET for it (`env` may override them).
   * @default false
   */
  introspection?: boolean;
}

/**
 * Starts every service of the shop for real, each on port 0 with an in-memory database, and the
 * gateway over a supergraph composed with their actual URLs. Always `close()` it.
 */
export async function startStack(env: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "stack-"));
  const closers: (() => Promise<void>)[] = [];
  try {
    const introspectionSecret = randomBytes(32).toString("base64url");
    const services = await startServices(
      options.introspection
        ? {
            ...options,
            users: {
              ...options.users,
              oauthClients: [
                ...(options.users?.oauthClients ?? []),
                { id: "gateway", secret: introspectionSecret, scope: "", introspect: true },
              ],
            },
          }
        : options,
    );
    closers.push(() => services.close());
    const { users, products, orders, payments, sandbox, subgraphUrls, identity } = services;
    const supergraphPath = join(dir, "supergraph.graphql");
    writeFileSync(supergraphPath, services.supergraphSdl);

    const config = loadConfig({
      ...identity.gatewayEnv,
      SUPERGRAPH_PATH: supergraphPath,
      PORT: "0",
      LOG_LEVEL: "silent",
      ...(options.introspection && {
        INTROSPECTION_URL: new URL("/oauth/introspect", subgraphUrls.users).toString(),
        INTROSPECTION_CLIENT_ID: "gateway",
        INTROSPECTION_CLIENT_SECRET: introspectionSecret,
      }),
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
    // Tokens live an hour and login is limited per client IP (5 a minute by default): each
    // account signs in once per stack, however many tests ask for its token.
    const tokens = new Map<string, Promise<string>>();
    const login = (email: string, password: string): Promise<string> => {
      const key = `${email}\u0000${password}`;
      let token = tokens.get(key);
      if (!token) {
        token = signIn(email, password);
        tokens.set(key, token);
        token.catch(() => tokens.delete(key));
      }
      return token;
    };
    const signIn = async (email: string, password: string) => {
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
      identity,
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
