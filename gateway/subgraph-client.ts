import { RemoteGraphQLDataSource } from "@apollo/gateway";
import type { GraphQLDataSourceProcessOptions } from "@apollo/gateway/dist/datasources/types.js";
import { GraphQLError } from "graphql";
import { SignJWT } from "jose";
import { Agent, fetch as undiciFetch } from "undici";
import type { CallerIdentity } from "./plugins/auth.ts";

type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>["fetcher"]>;

/** The header subgraphs read the gateway-signed identity from. */
export const IDENTITY_HEADER = "x-identity-token";
const IDENTITY_TTL_SECONDS = 60;

/** What the gateway keeps per request for its subgraph calls. */
export interface SubgraphCallContext {
  identity: CallerIdentity;
  requestId: string;
  /** Signed once per request, on the first subgraph fetch that needs it. */
  identityToken?: Promise<string>;
}

/** A keep-alive connection pool to the subgraphs; the default client opens far more connections. */
export function createSubgraphFetcher(timeoutMs: number): { fetcher: Fetcher; close: () => Promise<void> } {
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connections: 128,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const fetcher = ((url: string, init?: Record<string, unknown>) =>
    undiciFetch(url, { ...init, dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as Fetcher;
  return { fetcher, close: () => agent.close() };
}

export function signIdentity(identity: CallerIdentity, secret: Uint8Array): Promise<string> {
  const jwt = new SignJWT({
    scope: [...identity.scopes].join(" "),
    ...(identity.clientId && { client_id: identity.clientId }),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("gateway")
    .setAudience("subgraphs")
    .setIssuedAt()
    .setExpirationTime(`${IDENTITY_TTL_SECONDS}s`);
  if (identity.userId) jwt.setSubject(identity.userId);
  return jwt.sign(secret);
}

export interface SubgraphDataSourceOptions {
  name: string;
  url: string;
  fetcher: Fetcher;
  internalSecret: string;
}

/**
 * Sends the gateway's subgraph fetches: passes on the verified identity as a signed token (never the
 * client's own credentials), the request id, and turns a subgraph that cannot be reached into
 * SUBGRAPH_UNAVAILABLE rather than a leaked network error.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<SubgraphCallContext> {
  readonly subgraphName: string;
  private readonly secret: Uint8Array;

  constructor(options: SubgraphDataSourceOptions) {
    super({ url: options.url, fetcher: options.fetcher });
    this.subgraphName = options.name;
    this.secret = new TextEncoder().encode(options.internalSecret);
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<SubgraphCallContext>) {
    const headers = request.http?.headers;
    if (!headers || !context?.identity) return;
    headers.set("x-request-id", context.requestId);
    const { identity } = context;
    if (identity.userId !== null || identity.clientId !== null || identity.scopes.size > 0) {
      context.identityToken ??= signIdentity(identity, this.secret);
      headers.set(IDENTITY_HEADER, await context.identityToken);
    }
  }

  override didEncounterError(error: Error): never {
    const status = (error as GraphQLError).extensions?.response as { status?: number } | undefined;
    if (error instanceof GraphQLError && !(status?.status && status.status >= 502)) throw error;
    throw new GraphQLError(`Subgraph "${this.subgraphName}" is unavailable`, {
      extensions: { code: "SUBGRAPH_UNAVAILABLE", serviceName: this.subgraphName },
      originalError: error,
    });
  }
}
