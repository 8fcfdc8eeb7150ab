import { readFileSync } from "node:fs";
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import { buildSubgraphSchema } from "@apollo/subgraph";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import fastifyApollo, { fastifyApolloDrainPlugin } from "@as-integrations/fastify";
import Fastify, { type FastifyInstance } from "fastify";
import { type DocumentNode, GraphQLError, parse } from "graphql";
import { type Logger, pino } from "pino";
import { REQUEST_TIMEOUT_HEADER, requestTimeoutOf } from "../../common/deadline.ts";
import type { IdentityKeys } from "../../common/identity-keys.ts";
import { requestIdOf } from "../../common/request-id.ts";
import { validTraceparent } from "../../common/trace-context.ts";
import type { DatabaseOptions } from "../shared/db.ts";
import { createIdentityVerifier, IDENTITY_HEADER, type Identity } from "./identity.ts";
import { observeService } from "./observability.ts";
import { requestScope } from "./request-scope.ts";
import { startServiceTracing } from "./tracing.ts";

/** What every resolver of every subgraph receives. Created fresh for each request. */
export interface SubgraphContext<L> {
  identity: Identity;
  /** DataLoaders for this request only: nothing cached is shared between requests. */
  loaders: L;
  /** The caller's X-Request-Id (the gateway's request id), else one made here. */
  requestId: string;
  /** Logger carrying `requestId` (and `traceId` when the caller sent a trace context). */
  log: Logger;
}

export interface SubgraphServiceOptions<L> {
  name: string;
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<SubgraphContext<L>>;
  /** Builds the per-request loaders for the verified caller. */
  createLoaders: (identity: Identity) => L;
  /** The public keys it accepts identities from (the gateway's and its peers'); `aud` must be `subgraph:<name>`. */
  identityKeys: IdentityKeys;
  /** Hides stack traces and introspection. @default false */
  production?: boolean;
  /** @default a pino logger at "info" */
  logger?: Logger;
  /** Extra HTTP routes beside /graphql, /healthz and /readyz (the users service adds its JWKS). */
  routes?: (app: FastifyInstance) => void | Promise<void>;
  /** Releases what the service holds (database, peer clients) after the server closes. */
  onClose?: () => void | Promise<void>;
  /**
   * OTLP/HTTP traces URL (`ServiceConfig.otlpTracesUrl`); null keeps tracing off (no provider registered).
   * @default null
   */
  otlpTracesUrl?: string | null;
}

export interface SubgraphService {
  readonly name: string;
  readonly app: FastifyInstance;
  /** Listens and returns the GraphQL URL, e.g. `http://127.0.0.1:4001/graphql`. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/** What every subgraph's factory takes; a `ServiceConfig` has all of it. */
export interface ServiceOptions extends DatabaseOptions {
  /**
   * The gateway's and the allowed peers' public keys, verifying incoming identity tokens, and the
   * service's own private key, signing its calls to peers.
   */
  identityKeys: IdentityKeys;
  /** Hides stack traces and introspection. @default false */
  production?: boolean;
  /** @default a pino logger at "info" */
  logger?: Logger;
  /** OTLP/HTTP traces URL; null keeps tracing off. @default null */
  otlpTracesUrl?: string | null;
}

const DEADLINE_MESSAGE = "The caller's deadline passed before the request was served";

/** The GraphQL answer to a request whose deadline has passed (the caller has stopped waiting). */
function deadlineExceeded() {
  return { errors: [{ message: DEADLINE_MESSAGE, extensions: { code: "DEADLINE_EXCEEDED" } }] };
}

/** Reads a subgraph's `schema.graphql` next to the calling module. */
export function loadTypeDefs(moduleUrl: string, file = "schema.graphql"): DocumentNode {
  return parse(readFileSync(new URL(file, moduleUrl), "utf8"));
}

function errorLogging(log: Logger): ApolloServerPlugin<SubgraphContext<unknown>> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            const code = error.extensions?.code;
            if (code === undefined || code === "INTERNAL_SERVER_ERROR") {
              (contextValue?.log ?? log).error(
                { err: error.originalError ?? error, path: error.path },
                "resolver failed",
              );
            }
          }
        },
      };
    },
  };
}

/** Builds (without listening) a Federation 2 subgraph service on Fastify. */
export async function createSubgraphService<L>(options: SubgraphServiceOptions<L>): Promise<SubgraphService> {
  const log = options.logger ?? pino({ name: options.name });
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, genReqId: (raw) => requestIdOf(raw.headers) });
  // Request id on every response and log line, one log line per request, /metrics, trace context.
  const observability = observeService(app, { name: options.name, log });
  app.addHook("onRequest", (request, reply, done) => {
    // Only a valid trace context is passed on to peers: anything else would poison their traces.
    const traceparent = validTraceparent(request.headers.traceparent);
    const timeoutMs = requestTimeoutOf(request.headers[REQUEST_TIMEOUT_HEADER]);
    // A caller that has already given up gets no work done for it.
    if (timeoutMs !== null && timeoutMs <= 0) {
      reply.code(504).send(deadlineExceeded());
      return;
    }
    const scope = {
      requestId: request.id,
      ...(traceparent && { traceparent }),
      ...(timeoutMs !== null && { deadline: Date.now() + timeoutMs }),
    };
    requestScope.run(scope, done);
  });
  const stopTracing = options.otlpTracesUrl ? startServiceTracing(options.name, options.otlpTracesUrl) : null;
  const schema = buildSubgraphSchema({
    typeDefs: options.typeDefs,
    resolvers: options.resolvers as GraphQLResolverMap<unknown>,
  });
  const production = options.production ?? false;
  const apollo = new ApolloServer<SubgraphContext<L>>({
    schema,
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    csrfPrevention: true,
    // The service's entry point owns signal handling; Apollo's own would race it.
    stopOnTerminationSignals: false,
    plugins: [
      fastifyApolloDrainPlugin(app),
      ApolloServerPluginLandingPageDisabled(),
      // Traces are for a usage-reporting gateway this stack does not have.
      ApolloServerPluginInlineTraceDisabled(),
      errorLogging(log) as ApolloServerPlugin<SubgraphContext<L>>,
      observability.plugin as ApolloServerPlugin<SubgraphContext<L>>,
    ],
  });
  await apollo.start();

  const verifyIdentity = createIdentityVerifier({ subgraph: options.name, trusted: options.identityKeys.trusted });
  let ready = false;
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) =>
    reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "starting" }),
  );
  await options.routes?.(app);
  await app.register(fastifyApollo(apollo), {
    context: async (request) => {
      const requestId = request.id;
      // Queued behind other work past the caller's deadline: the answer would reach nobody.
      const deadline = requestScope.getStore()?.deadline;
      if (deadline !== undefined && Date.now() >= deadline) {
        throw new GraphQLError(DEADLINE_MESSAGE, { extensions: { code: "DEADLINE_EXCEEDED", http: { status: 504 } } });
      }
      let identity: Identity;
      try {
        identity = await verifyIdentity(request.headers[IDENTITY_HEADER]);
      } catch (error) {
        throw new GraphQLError((error as Error).message, {
          extensions: { code: "UNAUTHENTICATED", http: { status: 401 } },
        });
      }
      const traceId = observability.traceIdOf(request);
      const context: SubgraphContext<L> = {
        identity,
        loaders: options.createLoaders(identity),
        requestId,
        log: log.child(traceId ? { requestId, traceId } : { requestId }),
      };
      observability.attach(request, context);
      return context;
    },
  });

  return {
    name: options.name,
    app,
    async listen(port = 0, host = "127.0.0.1") {
      await app.listen({ port, host });
      ready = true;
      const address = app.server.address();
      const actualPort = typeof address === "object" && address ? address.port : port;
      const url = `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}/graphql`;
      log.info({ url }, `${options.name} service listening`);
      return url;
    },
    async close() {
      ready = false;
      // Stopping Apollo drains and closes the HTTP server (fastifyApolloDrainPlugin).
      await apollo.stop();
      await options.onClose?.();
      await stopTracing?.();
    },
  };
}

/**
 * Builds a service over what was opened for it (a database, peer clients): if building fails,
 * `release` runs before the error is rethrown, so a service that failed to start holds nothing.
 */
export async function buildOrRelease<T>(release: () => unknown, build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (error) {
    await release();
    throw error;
  }
}
