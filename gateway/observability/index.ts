// Request ids, the request log, metrics, tracing and the plan-cache counters: everything that watches a request.
import type { ApolloServerPlugin } from "@apollo/server";
import type { FastifyInstance, FastifyRequest, RawRequestDefaultExpression } from "fastify";
import type { Logger } from "pino";
import type { Metric } from "prom-client";
import type { RequestRecord, SubgraphCall, SubgraphCallContext } from "../context.ts";
import type { SupergraphState } from "../supergraph.ts";
import { createRequestLog } from "./logging.ts";
import { createGatewayMetrics, type GatewayMetrics } from "./metrics.ts";
import type { ObservabilityConfig } from "./options.ts";
import { CountingPlanCache } from "./plan-cache.ts";
import { newRecord, noteErrors, RequestRecords, settle, sniffErrorBody } from "./record.ts";
import { REQUEST_ID_HEADER, requestIdOf, traceIdOf } from "./request-id.ts";
import { endRequestSpan, startRequestSpan, startTracing, tracingPlugin, withSpan } from "./tracing.ts";

export { REDACT_PATHS } from "./logging.ts";
export { type GatewayMetrics, metricsRoutes } from "./metrics.ts";
export { type ObservabilityConfig, tracesUrlOf } from "./options.ts";
export { addSubgraphCall } from "./record.ts";
export { REQUEST_ID_HEADER, requestIdOf } from "./request-id.ts";

/** Told about every subgraph fetch (metrics: duration, errors, in-flight). */
export interface SubgraphCallObserver {
  /** Called as a fetch starts; the returned function is called with the finished call. */
  callStarted(subgraph: string): (call: SubgraphCall) => void;
}

export interface ObservabilityOptions {
  logger: Logger;
  /** Where the request log goes (its lines never hold a secret to redact). @default logger */
  requestLogger?: Logger;
  /** Current supergraph, for the supergraph series. */
  supergraph: () => SupergraphState | null;
  /** Series owned by other gateway concerns, served on the same /metrics. @default [] */
  metrics?: readonly Metric[];
  /** Operation names that always keep their metric label (trusted documents). @default none */
  trustedOperationNames?: Iterable<string>;
}

export interface Observability {
  /** The gateway's Prometheus series (served by `metricsRoutes`). */
  readonly metrics: GatewayMetrics;
  /** Fastify `genReqId`: the request id of a raw request (see requestIdOf). */
  readonly genReqId: (raw: RawRequestDefaultExpression) => string;
  /** Adds the request hooks to the root Fastify instance (before any hook that may answer early). */
  install(app: FastifyInstance): void;
  /** Apollo Server plugins: the request record (operation, user, errors) and, when tracing, spans. */
  readonly plugins: ApolloServerPlugin<SubgraphCallContext>[];
  /** `queryPlannerConfig.cache` for ApolloGateway: counts plan cache hits and misses. */
  readonly planCache: CountingPlanCache | undefined;
  /** Times and counts each subgraph fetch. */
  readonly subgraphObserver: SubgraphCallObserver | undefined;
  /** The record of a request in flight, for its GatewayContext (undefined when nothing observes). */
  recordOf(request: FastifyRequest): RequestRecord | undefined;
  /** Flushes spans. */
  close(): Promise<void>;
}

/**
 * Logging, metrics and tracing for every request, GraphQL or REST. Each request gets a record
 * (WeakMap-keyed by its Fastify request) that the hooks, the Apollo plugin and the subgraph client
 * fill in; when the response has gone out it becomes one log line, the metrics and the end of the
 * request span. Refusals are recognised generically by the error code of the response, whichever
 * concern refused.
 */
export function createObservability(config: ObservabilityConfig, options: ObservabilityOptions): Observability {
  const { logger } = options;
  const records = new RequestRecords();
  const metrics = createGatewayMetrics({
    supergraph: options.supergraph,
    maxOperationNames: config.maxOperationNames,
    operationEarnMinutes: config.operationEarnMinutes,
    operationRetireMinutes: config.operationRetireMinutes,
    ...(options.trustedOperationNames && { pinnedOperationNames: options.trustedOperationNames }),
    ...(options.metrics && { metrics: options.metrics }),
  });
  const tracing = config.otlpTracesUrl
    ? startTracing({
        url: config.otlpTracesUrl,
        serviceName: config.serviceName,
        sampleRatio: config.traceSampleRatio,
        logger,
      })
    : null;
  const requestLog = config.logRequests ? createRequestLog({ logger: options.requestLogger ?? logger }) : null;
  const measuring = config.metricsEnabled;
  // With logging, metrics and tracing all off, requests get no record at all.
  const observing = requestLog !== null || measuring || tracing !== null;

  const recordPlugin: ApolloServerPlugin<SubgraphCallContext> = {
    async requestDidStart({ contextValue, request }) {
      const record = contextValue.observation;
      if (!record) return;
      record.graphql = true;
      record.userId = contextValue.identity.userId;
      record.clientId = contextValue.identity.clientId;
      if (typeof request.operationName === "string") record.requestedOperation = request.operationName;
      return {
        async didResolveOperation({ operationName, operation }) {
          record.operationName = operationName ?? null;
          record.operationType = operation?.operation ?? null;
        },
        async willSendResponse({ response }) {
          if (response.body.kind === "single") {
            const { errors } = response.body.singleResult;
            if (errors) noteErrors(record, errors);
          } else {
            const { errors } = response.body.initialResult;
            if (errors) noteErrors(record, errors);
          }
        },
      };
    },
  };

  return {
    metrics,
    genReqId: (raw) => requestIdOf(raw.headers),
    install(app) {
      app.addHook("onRequest", (request, _reply, done) => {
        if (observing) {
          const traceId = traceIdOf(request.headers.traceparent);
          const record = newRecord(
            request.id,
            traceId,
            traceId && !tracing ? String(request.headers.traceparent) : null,
          );
          if (tracing) {
            record.span = startRequestSpan(request, request.id);
            const context = record.span.spanContext();
            if (context.traceFlags & 1) record.traceId = context.traceId;
          }
          records.set(request, record);
        }
        done();
      });
      // The handler (and the Apollo pipeline in it) runs inside the request span.
      if (tracing) {
        app.addHook("preHandler", (request, _reply, done) => {
          const span = records.get(request)?.span;
          if (span) withSpan(span, done);
          else done();
        });
      }
      app.addHook("onSend", (request, reply, payload, done) => {
        reply.header(REQUEST_ID_HEADER, request.id);
        const record = records.get(request);
        if (record && reply.statusCode >= 400 && record.errorCodes.length === 0) sniffErrorBody(record, payload);
        done(null, payload);
      });
      app.addHook("onResponse", (request, reply, done) => {
        const record = records.get(request);
        if (record) settle(record, reply.statusCode);
        if (measuring) {
          const route = request.routeOptions.url ?? "unmatched";
          if (route !== "/metrics") {
            metrics.observeRequest(route, request.method, reply.statusCode, reply.elapsedTime / 1000, record);
          }
        }
        requestLog?.(request, reply, record);
        if (record?.span) endRequestSpan(record.span, reply.statusCode, record);
        done();
      });
    },
    plugins: observing
      ? [recordPlugin, ...(tracing ? [tracingPlugin() as ApolloServerPlugin<SubgraphCallContext>] : [])]
      : [],
    planCache: measuring ? new CountingPlanCache((hit) => metrics.planCacheLookup(hit)) : undefined,
    subgraphObserver: measuring ? { callStarted: (subgraph) => metrics.subgraphCallStarted(subgraph) } : undefined,
    recordOf: (request) => records.get(request),
    close: async () => {
      await tracing?.close();
    },
  };
}
