import type { ApolloServerPlugin } from "@apollo/server";
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { REQUEST_ID_HEADER } from "../../common/request-id.ts";
import { traceIdOf } from "../../common/trace-context.ts";

/** Routes logged at debug only. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface RequestState {
  traceId: string | null;
  span: Span | null;
  errorCodes: string[];
}

export interface ServiceObservability {
  /** The service's own Prometheus registry (served at /metrics). */
  readonly registry: Registry;
  /** Trace id of the request (its span's when tracing, else the caller's traceparent). */
  traceIdOf(request: FastifyRequest): string | null;
  /** Links a request's GraphQL context to it, so the plugin's findings reach its log line. */
  attach(request: FastifyRequest, contextValue: object): void;
  /** Apollo plugin: error codes per request for the log line and the metrics. */
  readonly plugin: ApolloServerPlugin<object>;
}

/**
 * Request observation for a subgraph service: the request id in every response and log line, one
 * log line per request (request id, trace id, route, status, duration, error codes), its own
 * `/metrics`, and a server span continuing the caller's `traceparent` (a no-op unless a tracer
 * provider is registered in the process).
 */
export function observeService(app: FastifyInstance, options: { name: string; log: Logger }): ServiceObservability {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.name });
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "subgraph_http_requests_total",
    help: "HTTP requests by route, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "subgraph_http_request_duration_seconds",
    help: "HTTP request duration by route and method",
    labelNames: ["route", "method"] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  const errors = new Counter({
    name: "subgraph_graphql_errors_total",
    help: "GraphQL errors answered, by code",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  const log = options.log.child({ component: "request" });
  const tracer = trace.getTracer(`shop-${options.name}`);
  const states = new WeakMap<FastifyRequest, RequestState>();
  const byContext = new WeakMap<object, RequestState>();

  app.addHook("onRequest", (request, _reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    const span = tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": request.method, "http.route": route, "shop.service": options.name },
      },
      propagation.extract(ROOT_CONTEXT, request.headers),
    );
    const spanContext = span.spanContext();
    const state: RequestState = {
      traceId: span.isRecording() ? spanContext.traceId : traceIdOf(request.headers.traceparent),
      span: span.isRecording() ? span : null,
      errorCodes: [],
    };
    states.set(request, state);
    done();
  });
  app.addHook("preHandler", (request, _reply, done) => {
    const span = states.get(request)?.span;
    if (span) context.with(trace.setSpan(context.active(), span), done);
    else done();
  });
  app.addHook("onSend", (request, reply, payload, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done(null, payload);
  });
  app.addHook("onResponse", (request, reply, done) => {
    const state = states.get(request);
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    if (route !== "/metrics") {
      requests.inc({ route, method: request.method, status: String(status) });
      duration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    }
    const level = QUIET_ROUTES.has(route) && status < 500 ? "debug" : status >= 500 ? "error" : "info";
    if (log.isLevelEnabled(level)) {
      log[level](
        {
          requestId: request.id,
          ...(state?.traceId && { traceId: state.traceId }),
          method: request.method,
          route,
          status,
          durationMs: Math.round(reply.elapsedTime * 100) / 100,
          ...(state?.errorCodes.length && { errors: state.errorCodes }),
        },
        "request completed",
      );
    }
    if (state?.span) {
      state.span.setAttribute("http.response.status_code", status);
      if (status >= 500) state.span.setStatus({ code: SpanStatusCode.ERROR });
      state.span.end();
    }
    done();
  });
  app.get("/metrics", async (_request, reply) =>
    reply
      .header("content-type", registry.contentType)
      .header("cache-control", "no-store")
      .send(await registry.metrics()),
  );

  return {
    registry,
    traceIdOf: (request) => states.get(request)?.traceId ?? null,
    attach(request, contextValue) {
      const state = states.get(request);
      if (state) byContext.set(contextValue, state);
    },
    plugin: {
      async requestDidStart({ contextValue }) {
        return {
          async willSendResponse({ response }) {
            if (response.body.kind !== "single") return;
            const state = contextValue ? byContext.get(contextValue) : undefined;
            for (const error of response.body.singleResult.errors ?? []) {
              const code = error.extensions?.code;
              if (typeof code !== "string") continue;
              errors.inc({ code });
              if (state && !state.errorCodes.includes(code) && state.errorCodes.length < 16)
                state.errorCodes.push(code);
            }
          },
        };
      },
    },
  };
}
