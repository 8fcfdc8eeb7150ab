import type { ApolloServerPlugin } from "@apollo/server";
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "./context.ts";

/** A concern that adds hooks to every HTTP request (GraphQL, REST, probes, metrics). */
export interface RequestStage {
  install(app: FastifyInstance): void;
}

/** The concerns a request passes through, by role. */
export interface PipelineStages {
  /** Request ids, the request log, metrics and tracing. */
  observability: RequestStage & { readonly plugins: readonly ApolloServerPlugin<GatewayContext>[] };
  /** IP lists, blocks, the throttle and the batch cap (per request); cost and field rate limits (per operation). */
  guards: RequestStage & { readonly plugin: ApolloServerPlugin<GatewayContext> };
  /** Trusted ids resolved to their documents; in trusted-only mode, every other document refused. */
  trustedDocuments: { readonly plugin: ApolloServerPlugin<GatewayContext> };
  /** `@authenticated` / `@requiresScopes`: removes what the caller may not see, answers it as null. */
  authorization: { readonly plugin: ApolloServerPlugin<GatewayContext> };
  /** Whole PUBLIC answers kept and served again, and their invalidation after a mutation. */
  responseCache: { readonly plugins: readonly ApolloServerPlugin<GatewayContext>[] };
  /** 503 when a subgraph could not be reached and no data came back. */
  subgraphStatus: ApolloServerPlugin<GatewayContext>;
  /** Apollo Server's own (drain on close, landing page and reporting off); they answer nothing. */
  apollo: readonly ApolloServerPlugin<GatewayContext>[];
}

/**
 * The order of the request pipeline, stated once.
 *
 * Per HTTP request (Fastify hooks on the root instance, so /graphql, the REST shim and every later
 * route get them), after the refusals of gateway/refusals.ts, which gateway.ts installs before the
 * pipeline: the JSON parser's depth check, the error and not-found handlers, and the `onSend` hook
 * that reads the rest of a refused body before any refusal goes out (so it covers the refusals of
 * every hook below too):
 * 1. observability: first, so a request refused by any later hook still gets its request id, log
 *    line, metrics and span;
 * 2. guards (IP lists, blocks, throttle, batch cap): before any work is spent on the request, so
 *    a refused client costs no token verification, parsing or planning.
 * Then the route's handler builds the GatewayContext, which authenticates the caller (gateway.ts,
 * `buildContext`), and runs the operation through Apollo Server.
 *
 * Per operation (Apollo plugins; each hook runs in this order):
 * 1. Apollo Server's own plugins;
 * 2. trusted documents, first of the gateway's: its `requestDidStart` decides which document the
 *    request runs (a trusted id's body) before Apollo Server reads the query, and refuses an
 *    untrusted one before anything parses, validates, plans or costs it; it reads nothing another
 *    plugin writes, and the others read the document it chose;
 * 3. subgraph status: its `willSendResponse` sees the response as the subgraphs left it, before
 *    authorization writes nulls into it, so only a subgraph outage turns into a 503;
 * 4. authorization, before the guards: its `didResolveOperation` removes the fields the caller may
 *    not see, and the guards then cost and rate-limit the operation that will run, not the one
 *    sent (a caller is neither refused nor charged for fields it never gets);
 * 5. guards (cost and per-field rate limits);
 * 6. the response cache: it answers (in `responseForOperation`, which Apollo calls after every
 *    `didResolveOperation`) only once authorization and the guards have let the operation through,
 *    so a cached answer is still authorized, costed and counted against rate limits; it keeps an
 *    answer only as every plugin before it left it;
 * 7. observability last: its `willSendResponse` records the errors every plugin before it added.
 */
export function composePipeline(stages: PipelineStages): {
  /** Adds the per-request hooks, in order, to the root Fastify instance. */
  install(app: FastifyInstance): void;
  /** Apollo Server's `plugins`, in order. */
  readonly plugins: ApolloServerPlugin<GatewayContext>[];
} {
  return {
    install(app) {
      stages.observability.install(app);
      stages.guards.install(app);
    },
    plugins: [
      ...stages.apollo,
      stages.trustedDocuments.plugin,
      stages.subgraphStatus,
      stages.authorization.plugin,
      stages.guards.plugin,
      ...stages.responseCache.plugins,
      ...stages.observability.plugins,
    ],
  };
}
