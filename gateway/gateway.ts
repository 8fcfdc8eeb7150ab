import "./no-telemetry.ts";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from "@apollo/server/plugin/disabled";
import fastifyApollo, { fastifyApolloDrainPlugin } from "@as-integrations/fastify";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { type DestinationStream, type Logger, pino } from "pino";
import type { Registry } from "prom-client";
import { type Authenticator, createAuthenticator } from "./auth/index.ts";
import {
  type AuthorizationPolicy,
  createAuthorization,
  readAuthorizationPolicy,
  withoutSecurityMarks,
} from "./authorization/index.ts";
import type { GatewayConfig } from "./config.ts";
import type { GatewayContext } from "./context.ts";
import { createErrorFormatter } from "./errors.ts";
import { explorer, gatewayStatus, TrafficWindow } from "./explorer/index.ts";
import { createGuards, type Guards, type LimitStore } from "./guards/index.ts";
import { healthRoutes } from "./health.ts";
import { serveMetrics } from "./metrics-access.ts";
import { createObservability, metricsRoutes, REDACT_PATHS } from "./observability/index.ts";
import { composePipeline } from "./pipeline.ts";
import { clientErrorHandler, frameworkErrors, installRefusals } from "./refusals.ts";
import { createResponseCache } from "./response-cache/index.ts";
import { REST_PREFIX, ROUTES, restRoutes } from "./rest/index.ts";
import { FileSupergraphManager, subgraphUrls } from "./supergraph.ts";
import { createTrustedDocuments } from "./trusted-documents/index.ts";
import {
  balancedTransport,
  createSubgraphTransport,
  IdentitySigner,
  InstancePool,
  SubgraphDataSource,
  subgraphUnavailableStatus,
} from "./upstream/index.ts";
import { connectionDrain } from "./workers/index.ts";

export type { GatewayContext } from "./context.ts";

export interface Gateway {
  readonly app: FastifyInstance;
  readonly apollo: ApolloServer<GatewayContext>;
  readonly supergraph: FileSupergraphManager;
  /** Rate limits, shape limits, throttling and blocking. */
  readonly guards: Guards;
  readonly logger: Logger;
  /** This process's Prometheus series (what /metrics serves unless told otherwise). */
  readonly metricsRegistry: Registry;
  /** Listens on config.port/config.host (or the given port) and resolves with the base URL. */
  listen(port?: number): Promise<string>;
  /** Base URL of the `/metrics` listener of its own (METRICS_PORT) once listening; null when there is none. */
  readonly metricsUrl: string | null;
  /** Stops accepting requests, lets in-flight ones finish, and releases everything. */
  close(): Promise<void>;
}

export interface CreateGatewayOptions {
  /** @default a pino JSON logger at config.logLevel */
  logger?: Logger;
  /** Where the default logger writes its JSON lines. @default standard output */
  logDestination?: DestinationStream;
  /** Where rate limits are counted without Redis. @default this process's memory */
  rateLimitStore?: LimitStore;
  /** What /metrics serves (e.g. every worker's series). @default this process's series */
  metricsExposition?: () => Promise<string>;
}

/** Secrets never written to a log line (tokens, passwords, Authorization, cookies, identity tokens). */
const REDACT = REDACT_PATHS;

/** Builds the gateway (HTTP server, Apollo Server, Apollo Gateway) without listening. */
export async function createGateway(config: GatewayConfig, options: CreateGatewayOptions = {}): Promise<Gateway> {
  const destination = options.logDestination ?? pino.destination(1);
  const logger = options.logger ?? pino({ name: "gateway", level: config.logLevel, redact: REDACT }, destination);
  // The request log's lines are built field by field from the request record and carry no header,
  // variable or body: redaction would find nothing there, at a tenth of the request's CPU.
  const requestLogger = options.logger ?? pino({ name: "gateway", level: config.logLevel }, destination);
  const { transport, probe, close: closeTransport } = createSubgraphTransport(config.subgraphTimeoutMs);
  const signer = new IdentitySigner(config.identityKey);

  let authenticator: Authenticator | null = null;
  let jwksUrl: string | null | undefined;
  let policy: AuthorizationPolicy = { fields: new Map(), types: new Map() };
  const authorization = createAuthorization({ policy: () => policy });
  const guards = createGuards(config.guards, {
    logger,
    operationOf: authorization.operationOf,
    ...(options.rateLimitStore && { rateLimitStore: options.rateLimitStore }),
  });
  let supergraphSdl = ""; // for the status page
  const pools = new Map<string, InstancePool>(); // by subgraph name; the status page reads them too
  const poolOptions = {
    failureThreshold: config.subgraphCircuitFailures,
    openMs: config.subgraphEjectSeconds * 1000,
    probe,
    probeIntervalMs: config.subgraphProbeIntervalMs,
    probeTimeoutMs: config.subgraphProbeTimeoutMs,
    retryRatio: config.subgraphRetryRatio,
    retryMinPerSecond: config.subgraphRetryMinPerSecond,
    logger,
  };
  const supergraph = new FileSupergraphManager({
    path: config.supergraphPath,
    logger,
    // The gateway enforces @authenticated/@requiresScopes itself; @apollo/gateway gets them unmarked.
    prepare: withoutSecurityMarks,
    onUpdate: (sdl, state) => {
      policy = readAuthorizationPolicy(sdl);
      supergraphSdl = sdl;
      // The default key source follows the users subgraph wherever the supergraph routes it;
      // the key cache is kept unless that changes.
      const next = config.auth.jwksUrl ?? defaultJwksUrl(sdl);
      if (authenticator === null || next !== jwksUrl) {
        jwksUrl = next;
        authenticator = createAuthenticator({ ...config.auth, jwksUrl, logger });
      }
      guards.onSupergraph(sdl);
      // A subgraph the new supergraph no longer has stops being probed.
      const routed = subgraphUrls(sdl);
      for (const [name, pool] of pools) {
        if (routed.has(name)) continue;
        pool.close();
        pools.delete(name);
      }
      logger.info({ version: state.version, jwksUrl }, "supergraph loaded");
    },
  });
  // The REST shim's operations are the gateway's own documents: trusted without a manifest.
  const trusted = createTrustedDocuments(config.trustedDocuments, {
    own: ROUTES.map((route) => route.operation),
    logger,
  });
  // Request ids, the request log, metrics and (with an OTLP endpoint) tracing.
  const observability = createObservability(config.observability, {
    logger,
    requestLogger,
    supergraph: () => supergraph.state,
    metrics: guards.metrics,
    trustedOperationNames: trusted.documents.operationNames,
  });

  const gateway = new ApolloGateway({
    supergraphSdl: supergraph,
    logger: apolloLogger(logger),
    ...(observability.planCache && { queryPlannerConfig: { cache: observability.planCache } }),
    buildService: ({ name, url }) => {
      // SUBGRAPH_URLS may give several instances; each subgraph's pool balances, probes and breaks
      // circuits. A reload that keeps a subgraph's instances keeps its pool (and what it learnt).
      const instances = config.subgraphUrls.get(name) ?? [url!];
      let pool = pools.get(name);
      if (!pool?.sameUrls(instances)) {
        pool?.close();
        pool = new InstancePool({ subgraph: name, urls: instances, ...poolOptions });
        pools.set(name, pool);
      }
      return new SubgraphDataSource({
        name,
        url: instances[0]!,
        send: balancedTransport(pool, transport),
        signer,
        dedupe: config.subgraphDedupe,
        observer: observability.subgraphObserver,
      });
    },
  });

  // X-Forwarded-For is believed only from the configured proxies (TRUSTED_PROXIES).
  const trustProxy = config.guards.trustedProxies.length > 0 ? [...config.guards.trustedProxies] : false;
  const app = Fastify({
    logger: false,
    bodyLimit: config.bodyLimitBytes,
    trustProxy,
    genReqId: observability.genReqId,
    // Fastify's and Node's own refusals, in the contract's shapes (refusals.ts).
    frameworkErrors,
    clientErrorHandler,
    // While closing, a request already on a kept-alive connection is served (with Connection:
    // close), not refused: the client sent it before it could know.
    return503OnClosing: false,
  });
  const connections = connectionDrain(app.server);
  installRefusals(app, { logger });
  // GraphQL over HTTP takes JSON (and GET): a text/plain body is 415, not a CSRF refusal.
  app.removeContentTypeParser("text/plain");
  // The order of everything a request passes through, and why, is stated in pipeline.ts.
  const responseCache = createResponseCache(config.responseCache, {
    isOpen: authorization.isOpen,
    logger: logger.child({ component: "response-cache" }),
  });
  const pipeline = composePipeline({
    observability: {
      install: (fastify) => observability.install(fastify),
      plugins: observability.plugins as ApolloServerPlugin<GatewayContext>[],
    },
    guards,
    trustedDocuments: trusted,
    authorization: { plugin: authorization.plugin as ApolloServerPlugin<GatewayContext> },
    responseCache: { plugins: responseCache.plugins as readonly ApolloServerPlugin<GatewayContext>[] },
    subgraphStatus: subgraphUnavailableStatus() as ApolloServerPlugin<GatewayContext>,
    apollo: [
      fastifyApolloDrainPlugin(app),
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
    ],
  });
  pipeline.install(app);
  const apollo = new ApolloServer<GatewayContext>({
    // Authorization runs the operation the caller may see through the gateway's executor.
    gateway: authorization.gateway(gateway),
    introspection: config.introspection,
    includeStacktraceInErrorResponses: !config.production,
    hideSchemaDetailsFromClientErrors: config.production,
    formatError: guards.formatError(createErrorFormatter(config.production)),
    parseOptions: guards.parseOptions,
    validationRules: guards.validationRules,
    allowBatchedHttpRequests: guards.allowBatchedHttpRequests,
    csrfPrevention: true,
    // Trusted-only mode registers nothing: APQ (Apollo's in-memory cache) only outside it.
    ...(trusted.only && { persistedQueries: false as const }),
    // index.ts owns signal handling; Apollo's own would race it.
    stopOnTerminationSignals: false,
    logger: apolloLogger(logger),
    plugins: pipeline.plugins,
  });
  await apollo.start();

  let accepting = true;
  await app.register(healthRoutes, {
    ready: () => accepting && supergraph.state !== null,
    describe: () => ({ supergraph: supergraph.state }),
  });
  const metrics = await serveMetrics(app, config.metricsAccess, async (instance) => {
    await instance.register(metricsRoutes, {
      supergraph: () => supergraph.state,
      instruments: observability.metrics,
      ...(options.metricsExposition && { exposition: options.metricsExposition }),
    });
  });
  let metricsUrl: string | null = null;
  /** The one place a request becomes a GatewayContext: /graphql and every other entry use it. */
  const buildContext = async (request: FastifyRequest): Promise<GatewayContext> => {
    // One deadline per request, from before authentication (an introspection call spends it too).
    const deadline = Date.now() + config.requestTimeoutMs;
    const identity = await authenticator!.authenticate(headerValue(request.headers.authorization));
    // request.id is the X-Request-Id kept or made for this request (observability.genReqId).
    return { identity, requestId: request.id, ip: request.ip, observation: observability.recordOf(request), deadline };
  };
  // The REST shim runs its operations through this same Apollo Server and context.
  await app.register(restRoutes, {
    prefix: REST_PREFIX,
    apollo,
    buildContext,
    schema: () => gateway.schema,
    bodyLimitBytes: config.restBodyLimitBytes,
    logger: logger.child({ component: "rest" }),
  });
  const traffic = new TrafficWindow();
  await app.register(
    explorer({
      enabled: config.explorer,
      status: gatewayStatus({
        supergraph: () => supergraph.state,
        supergraphSdl: () => supergraphSdl,
        pools,
        traffic,
        subgraphUrls: config.subgraphUrls,
      }),
      traffic: { window: traffic, recordOf: observability.recordOf },
    }),
  );
  await app.register(fastifyApollo(apollo), { context: buildContext });

  return {
    app,
    apollo,
    supergraph,
    guards,
    logger,
    metricsRegistry: observability.metrics.registry,
    get metricsUrl() {
      return metricsUrl;
    },
    async listen(port = config.port) {
      metricsUrl = await metrics.listen();
      await app.listen({ port, host: config.host });
      const address = app.server.address();
      const actual = typeof address === "object" && address ? address.port : port;
      const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
      return `http://${host.includes(":") ? `[${host}]` : host}:${actual}`;
    },
    async close() {
      accepting = false;
      // Kept-alive clients finish their requests and leave before idle connections are closed.
      await connections.drain();
      // Stopping Apollo drains in-flight requests and closes the HTTP server (fastifyApolloDrainPlugin).
      await apollo.stop();
      await metrics.close();
      for (const pool of pools.values()) pool.close();
      await closeTransport();
      await guards.close();
      await responseCache.close();
      await observability.close();
    },
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function defaultJwksUrl(sdl: string): string | null {
  const users = subgraphUrls(sdl).get("users");
  return users ? new URL("/.well-known/jwks.json", users).toString() : null;
}

function apolloLogger(logger: Logger) {
  const child = logger.child({ component: "apollo" });
  return {
    debug: (message: unknown) => child.debug(String(message)),
    info: (message: unknown) => child.info(String(message)),
    warn: (message: unknown) => child.warn(String(message)),
    error: (message: unknown) => child.error(String(message)),
  };
}
