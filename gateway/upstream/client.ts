import "../no-telemetry.ts";
import { performance } from "node:perf_hooks";
import { RemoteGraphQLDataSource } from "@apollo/gateway";
import type { GraphQLDataSourceProcessOptions } from "@apollo/gateway/dist/datasources/types.js";
import type { GatewayGraphQLResponse } from "@apollo/server-gateway-interface";
import { context as otelContext, propagation, type TextMapSetter } from "@opentelemetry/api";
import { GraphQLError } from "graphql";
import { SignJWT } from "jose";
import { Agent, fetch as undiciFetch } from "undici";
import type { CallerIdentity, SubgraphCall, SubgraphCallContext } from "../context.ts";
import { addSubgraphCall, type SubgraphCallObserver } from "../observability/index.ts";

type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>["fetcher"]>;

/** The header subgraphs read the gateway-signed identity from. */
export const IDENTITY_HEADER = "x-identity-token";
const IDENTITY_TTL_SECONDS = 60;

type HeadersLike = { set(name: string, value: string): void; has(name: string): boolean };
const headerSetter: TextMapSetter<HeadersLike> = { set: (carrier, key, value) => carrier.set(key, value) };

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
  /** @default @apollo/gateway's own fetcher */
  fetcher?: Fetcher;
  internalSecret: string;
  /** @default none */
  observer?: SubgraphCallObserver | undefined;
}

/**
 * Sends the gateway's subgraph fetches: passes on the verified identity as a signed token (never the
 * client's own credentials), the request id, and turns a subgraph that cannot be reached into
 * SUBGRAPH_UNAVAILABLE rather than a leaked network error.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<SubgraphCallContext> {
  readonly subgraphName: string;
  private readonly secret: Uint8Array;
  private readonly observer: SubgraphCallObserver | undefined;

  constructor(options: SubgraphDataSourceOptions) {
    super({ url: options.url, ...(options.fetcher && { fetcher: options.fetcher }) });
    this.subgraphName = options.name;
    this.secret = new TextEncoder().encode(options.internalSecret);
    this.observer = options.observer;
  }

  /** Times the fetch and reports it to the request's record and the observer. */
  override async process(
    options: GraphQLDataSourceProcessOptions<SubgraphCallContext>,
  ): Promise<GatewayGraphQLResponse> {
    const record = options.context?.observation;
    if (!record && !this.observer) return super.process(options);
    const finished = this.observer?.callStarted(this.subgraphName);
    const started = performance.now();
    const call: SubgraphCall = { subgraph: this.subgraphName, url: this.url, durationMs: 0, status: null, errors: 0 };
    try {
      const response = await super.process(options);
      const http = (response as { http?: { status?: number; url?: string } }).http;
      call.status = http?.status ?? 200;
      if (http?.url) call.url = http.url;
      call.errors = response.errors?.length ?? 0;
      return response;
    } catch (error) {
      const extensions = (error as GraphQLError).extensions ?? {};
      const status = (extensions.response as { status?: number } | undefined)?.status;
      call.status = typeof status === "number" ? status : null;
      call.errors = 1;
      if (typeof extensions.code === "string") call.code = extensions.code;
      throw error;
    } finally {
      call.durationMs = Math.round((performance.now() - started) * 100) / 100;
      finished?.(call);
      if (record) addSubgraphCall(record, call);
    }
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<SubgraphCallContext>) {
    const headers = request.http?.headers;
    if (!headers || !context?.identity) return;
    headers.set("x-request-id", context.requestId);
    // The active span here is @apollo/gateway's gateway.fetch; a no-op unless tracing is on.
    propagation.inject(otelContext.active(), headers, headerSetter);
    const passOn = context.observation?.traceparent;
    if (passOn && !headers.has("traceparent")) headers.set("traceparent", passOn);
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
