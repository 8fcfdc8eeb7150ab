import "../no-telemetry.ts";
import { STATUS_CODES } from "node:http";
import { performance } from "node:perf_hooks";
import type { GraphQLDataSource } from "@apollo/gateway";
import type { GraphQLDataSourceProcessOptions } from "@apollo/gateway/dist/datasources/types.js";
import type { GatewayGraphQLResponse } from "@apollo/server-gateway-interface";
import { context as otelContext, propagation, type TextMapSetter } from "@opentelemetry/api";
import { GraphQLError, Kind, OperationTypeNode } from "graphql";
import { LRUCache } from "lru-cache";
import { Agent, type Dispatcher } from "undici";
import {
  IDENTITY_HEADER,
  IDENTITY_TTL_SECONDS,
  type IdentitySigningKey,
  REQUEST_TIMEOUT_HEADER,
  signIdentity,
} from "../../common/index.ts";
import type { CallerIdentity, SubgraphCall, SubgraphCallContext } from "../context.ts";
import { addSubgraphCall, type SubgraphCallObserver } from "../observability/index.ts";

export { IDENTITY_HEADER, REQUEST_TIMEOUT_HEADER, signIdentity };

/** A cached identity token is replaced this long before it expires, so no subgraph sees it expire in flight. */
const IDENTITY_RENEW_BEFORE_SECONDS = 15;

/** One subgraph answer, its body read in full. */
export interface SubgraphResponse {
  status: number;
  /** The instance that answered. */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: string;
}

export interface SubgraphRequest {
  headers: Record<string, string>;
  body: string;
  /** When the gateway stops waiting for the whole client request (epoch ms). @default none */
  deadline?: number | undefined;
  /** A mutation may have run once sent: never repeated then. @default read from the body */
  mutation?: boolean | undefined;
}

/** The code of the error a fetch fails with when the request's deadline passed before it could start. */
export const DEADLINE_EXCEEDED = "EDEADLINE";

/** Sends one request to one subgraph instance. */
export type SubgraphTransport = (url: string, request: SubgraphRequest) => Promise<SubgraphResponse>;

/**
 * Subgraph HTTP over undici's dispatcher API on a keep-alive pool: no WHATWG Request/Response/Headers
 * objects per call, which cost more than the rest of a subgraph fetch together.
 */
export function createSubgraphTransport(timeoutMs: number): {
  transport: SubgraphTransport;
  /**
   * `GET /healthz` on the instance's origin: true when it answers below 500 within the timeout (a
   * subgraph without that path, e.g. an external one, still shows it is up with its 404).
   */
  probe: (url: string, timeoutMs: number) => Promise<boolean>;
  close: () => Promise<void>;
} {
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connections: 128,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  // Instance URLs are few and fixed per supergraph: split each once.
  const targets = new Map<string, { origin: string; path: string }>();
  const targetOf = (url: string) => {
    let target = targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      if (targets.size < 1024) targets.set(url, target);
    }
    return target;
  };
  const transport: SubgraphTransport = async (url, { headers, body, deadline }) => {
    // One deadline per client request: each try (retries too) gets what is left of it, at most
    // timeoutMs, and the subgraph is told, so it stops when the gateway stops waiting.
    const left = deadline === undefined ? timeoutMs : Math.min(timeoutMs, Math.floor(deadline - Date.now()));
    if (left <= 0) throw Object.assign(new Error("the request's deadline has passed"), { code: DEADLINE_EXCEEDED });
    headers[REQUEST_TIMEOUT_HEADER] = String(left);
    const { origin, path } = targetOf(url);
    const response: Dispatcher.ResponseData = await agent.request({
      origin,
      path,
      method: "POST",
      headers,
      body,
      headersTimeout: left,
      bodyTimeout: left,
    });
    return { status: response.statusCode, url, headers: response.headers, body: await response.body.text() };
  };
  const probe = async (url: string, probeTimeoutMs: number): Promise<boolean> => {
    const { origin } = targetOf(url);
    const response = await agent.request({
      origin,
      path: "/healthz",
      method: "GET",
      headersTimeout: probeTimeoutMs,
      bodyTimeout: probeTimeoutMs,
    });
    await response.body.dump();
    return response.statusCode < 500;
  };
  return { transport, probe, close: () => agent.close() };
}

/**
 * Signs the identity the gateway passes on to subgraphs, reusing a token per identity until shortly
 * before it expires: signing is the one per-request cost that depends only on who is calling.
 */
export class IdentitySigner {
  private readonly tokens = new LRUCache<string, { token: Promise<string>; renewAt: number }>({ max: 10_000 });

  /**
   * @param key the gateway's private key, signing as `gateway`
   * @param now the clock, for tests. @default Date.now
   */
  constructor(
    private readonly key: IdentitySigningKey,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The token for this identity to this subgraph (its audience), or null for an anonymous caller
   * (nothing to pass on).
   */
  tokenFor(identity: CallerIdentity, subgraph: string): Promise<string> | null {
    if (identity.userId === null && identity.clientId === null && identity.scopes.size === 0) return null;
    const key = `${subgraph}\0${identity.userId ?? ""}\0${identity.clientId ?? ""}\0${[...identity.scopes].sort().join(" ")}`;
    const now = this.now();
    const cached = this.tokens.get(key);
    if (cached && cached.renewAt > now) return cached.token;
    const token = signIdentity(identity, this.key, subgraph);
    this.tokens.set(key, { token, renewAt: now + (IDENTITY_TTL_SECONDS - IDENTITY_RENEW_BEFORE_SECONDS) * 1000 });
    token.catch(() => this.tokens.delete(key));
    return token;
  }
}

export interface SubgraphDataSourceOptions {
  name: string;
  /** The subgraph's URL (its only instance unless `send` balances over several). */
  url: string;
  /** Sends one fetch; a balancing transport picks the instance itself. */
  send: SubgraphTransport;
  signer: IdentitySigner;
  /**
   * Share one subgraph answer between identical query fetches in flight at the same time (same
   * subgraph, document, variables and identity token); never for mutations. @default true
   */
  dedupe?: boolean;
  /** @default none */
  observer?: SubgraphCallObserver | undefined;
}

type HeadersRecord = Record<string, string>;
const headerSetter: TextMapSetter<HeadersRecord> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * Sends the gateway's subgraph fetches: passes on the verified identity as a signed token (never the
 * client's own credentials), the request id and trace context, shares identical query fetches that
 * are in flight together, and turns a subgraph that cannot be reached into SUBGRAPH_UNAVAILABLE
 * rather than a leaked network error.
 */
export class SubgraphDataSource implements GraphQLDataSource<SubgraphCallContext> {
  readonly subgraphName: string;
  readonly url: string;
  private readonly options: SubgraphDataSourceOptions;
  private readonly inFlight = new Map<string, Promise<SubgraphResponse>>();

  constructor(options: SubgraphDataSourceOptions) {
    this.subgraphName = options.name;
    this.url = options.url;
    this.options = options;
  }

  async process(options: GraphQLDataSourceProcessOptions<SubgraphCallContext>): Promise<GatewayGraphQLResponse> {
    const context = options.context;
    const record = context?.observation;
    const finished = this.options.observer?.callStarted(this.subgraphName);
    const started = performance.now();
    const call: SubgraphCall = { subgraph: this.subgraphName, url: this.url, durationMs: 0, status: null, errors: 0 };
    try {
      const response = await this.fetch(options);
      call.status = response.status;
      call.url = response.url;
      const result = this.parse(response);
      call.errors = result.errors?.length ?? 0;
      if (options.kind === "incoming operation") restrictCachePolicy(options, response);
      return result;
    } catch (error) {
      const extensions = (error as GraphQLError).extensions ?? {};
      const status = (extensions.response as { status?: number } | undefined)?.status;
      if (typeof status === "number") call.status = status;
      call.errors = 1;
      const failure = this.failure(error);
      call.code = String(failure.extensions.code ?? "");
      throw failure;
    } finally {
      call.durationMs = Math.round((performance.now() - started) * 100) / 100;
      finished?.(call);
      if (record) addSubgraphCall(record, call);
    }
  }

  private async fetch(options: GraphQLDataSourceProcessOptions<SubgraphCallContext>): Promise<SubgraphResponse> {
    const { request, context } = options;
    if (!request.query) throw new Error("Missing query");
    const headers: HeadersRecord = { "content-type": "application/json" };
    for (const [name, value] of request.http?.headers ?? []) headers[name] = value;
    let identityToken: string | null = null;
    if (context?.identity) {
      headers["x-request-id"] = context.requestId;
      // The active span here is @apollo/gateway's gateway.fetch; a no-op unless tracing is on.
      propagation.inject(otelContext.active(), headers, headerSetter);
      const passOn = context.observation?.traceparent;
      if (passOn && !headers.traceparent) headers.traceparent = passOn;
      const pending = this.options.signer.tokenFor(context.identity, this.subgraphName);
      if (pending) identityToken = headers[IDENTITY_HEADER] = await pending;
    }
    const body = JSON.stringify({
      query: request.query,
      ...(request.variables && { variables: request.variables }),
      ...(request.operationName && { operationName: request.operationName }),
      ...(request.extensions && { extensions: request.extensions }),
    });
    const deadline = context?.deadline;
    const mutation = isMutation(options);
    if (this.options.dedupe === false || mutation)
      return this.options.send(this.url, { headers, body, deadline, mutation });
    // Identical fetches (the identity token stands for the caller) share one answer; each parses its own copy.
    const key = `${identityToken ?? ""}\0${body}`;
    let shared = this.inFlight.get(key);
    if (!shared) {
      // The first caller's deadline bounds the shared fetch: the others joined later, so they lose at
      // most the time by which they were late.
      shared = this.options.send(this.url, { headers, body, deadline, mutation });
      this.inFlight.set(key, shared);
      const forget = () => this.inFlight.delete(key);
      shared.then(forget, forget);
    }
    return shared;
  }

  private parse(response: SubgraphResponse): GatewayGraphQLResponse {
    if (response.status < 200 || response.status >= 300) {
      let body: unknown = response.body;
      try {
        if (isJson(response)) body = JSON.parse(response.body);
      } catch {}
      const statusText = STATUS_CODES[response.status] ?? "";
      throw new GraphQLError(`${response.status}: ${statusText}`, {
        extensions: {
          response: { url: response.url, status: response.status, statusText, body },
          ...(response.status === 401 && { code: "UNAUTHENTICATED" }),
          ...(response.status === 403 && { code: "FORBIDDEN" }),
        },
      });
    }
    const parsed: unknown = isJson(response) ? JSON.parse(response.body) : response.body;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error(`Expected JSON response body, but received: ${String(parsed).slice(0, 100)}`);
    }
    return parsed as GatewayGraphQLResponse;
  }

  /** A subgraph's own GraphQL error (below 502) passes through; everything else is SUBGRAPH_UNAVAILABLE. */
  private failure(error: unknown): GraphQLError {
    const status = (error as GraphQLError).extensions?.response as { status?: number } | undefined;
    if (error instanceof GraphQLError && !(status?.status && status.status >= 502)) return error;
    return new GraphQLError(`Subgraph "${this.subgraphName}" is unavailable`, {
      extensions: { code: "SUBGRAPH_UNAVAILABLE", serviceName: this.subgraphName },
      originalError: error instanceof Error ? error : new Error(String(error)),
    });
  }
}

function isJson(response: SubgraphResponse): boolean {
  const type = response.headers["content-type"];
  const value = Array.isArray(type) ? type[0] : type;
  return (
    value !== undefined &&
    (value.startsWith("application/json") || value.startsWith("application/graphql-response+json"))
  );
}

function isMutation(options: GraphQLDataSourceProcessOptions<SubgraphCallContext>): boolean {
  const document = "document" in options ? options.document : undefined;
  if (document) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION) return definition.operation !== OperationTypeNode.QUERY;
    }
  }
  // No parsed document: the planner's operations start with their type.
  return !/^\s*(query\b|\{)/.test(options.request.query ?? "");
}

/** As @apollo/gateway does: a subgraph's Cache-Control narrows the operation's cache policy. */
function restrictCachePolicy(
  options: GraphQLDataSourceProcessOptions<SubgraphCallContext>,
  response: SubgraphResponse,
): void {
  if (options.kind !== "incoming operation") return;
  const policy = options.incomingRequestContext.overallCachePolicy;
  if (!policy || !("restrict" in policy)) return;
  const header = response.headers["cache-control"];
  const value = Array.isArray(header) ? header.join(",") : (header ?? "");
  const hint: { maxAge: number; scope?: "PUBLIC" | "PRIVATE" } = { maxAge: 0 };
  for (const part of value.split(",")) {
    const [name, arg] = part.trim().toLowerCase().split("=");
    if (name === "max-age" && arg && /^[0-9]+$/.test(arg)) hint.maxAge = Number(arg);
    else if (name === "private") hint.scope = "PRIVATE";
    else if (name === "public") hint.scope = "PUBLIC";
  }
  policy.restrict(hint as Parameters<typeof policy.restrict>[0]);
}
