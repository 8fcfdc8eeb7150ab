import type { ApolloServerPlugin } from "@apollo/server";
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import type { FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { loadTracingSdk } from "../../common/index.ts";
import type { RequestRecord } from "../context.ts";

export interface TracingOptions {
  /** Full OTLP/HTTP traces URL (…/v1/traces). Spans go nowhere else. */
  url: string;
  /** `service.name` of the spans. */
  serviceName: string;
  /** Share of new traces sampled; a sampled incoming parent is always followed. @default 1 */
  sampleRatio?: number;
  logger?: Pick<Logger, "info" | "warn">;
}

export interface Tracing {
  /** Flushes pending spans; the last one closed also shuts the exporter down. */
  close(): Promise<void>;
}

const TRACER_NAME = "shop-gateway";

/**
 * The process's tracer provider. OpenTelemetry's API holds exactly one per process, and tracers
 * handed out (including @apollo/gateway's, taken when it loads) keep pointing at it, so it is
 * registered once and shared by every gateway in the process that asks for the same endpoint.
 */
let shared: { url: string; provider: BasicTracerProvider; users: number } | null = null;
let spent = false;

/**
 * Registers an OpenTelemetry tracer provider exporting to `options.url` over OTLP/HTTP (JSON), the
 * W3C `traceparent` propagator and an AsyncLocalStorage context manager. @apollo/gateway's own
 * spans (gateway.request, gateway.validate, gateway.plan, gateway.execute, gateway.fetch) then
 * flow to it too. Call only when an endpoint is configured: without it nothing is registered and
 * every OpenTelemetry call in the gateway stays a no-op.
 */
export function startTracing(options: TracingOptions): Tracing | null {
  if (shared) {
    if (shared.url !== options.url) {
      options.logger?.warn({ url: options.url }, "tracing already exports elsewhere in this process; spans go there");
    }
    shared.users++;
  } else {
    if (spent) {
      options.logger?.warn("tracing was shut down in this process and cannot start again; tracing stays off");
      return null;
    }
    const ratio = options.sampleRatio ?? 1;
    const {
      AsyncLocalStorageContextManager,
      BasicTracerProvider,
      BatchSpanProcessor,
      OTLPTraceExporter,
      ParentBasedSampler,
      Resource,
      TraceIdRatioBasedSampler,
      W3CTraceContextPropagator,
    } = loadTracingSdk();
    const provider = new BasicTracerProvider({
      resource: new Resource({ "service.name": options.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: options.url }), { scheduledDelayMillis: 1000 }),
      ],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    shared = { url: options.url, provider, users: 1 };
    options.logger?.info({ url: options.url, sampleRatio: ratio }, "tracing: exporting spans over OTLP/HTTP");
  }
  let closed = false;
  return {
    async close() {
      if (closed || !shared) return;
      closed = true;
      const current = shared;
      if (--current.users > 0) {
        await current.provider.forceFlush();
        return;
      }
      shared = null;
      spent = true;
      await current.provider.shutdown();
    },
  };
}

const tracer = () => trace.getTracer(TRACER_NAME);

/** Starts the server span of an HTTP request, child of an incoming `traceparent` if any. */
export function startRequestSpan(request: FastifyRequest, requestId: string): Span {
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  return tracer().startSpan(
    `${request.method} ${request.routeOptions.url ?? "unmatched"}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": request.method,
        // The route pattern, never the URL: a GET query string can carry variables.
        "http.route": request.routeOptions.url ?? "unmatched",
        "client.address": request.ip,
        "shop.request_id": requestId,
      },
    },
    parent,
  );
}

/** Ends the request span with what the record learnt. */
export function endRequestSpan(span: Span, status: number, record: RequestRecord | undefined): void {
  span.setAttribute("http.response.status_code", status);
  if (record?.operationName) span.setAttribute("graphql.operation.name", record.operationName);
  if (record?.operationType) span.setAttribute("graphql.operation.type", record.operationType);
  if (record?.errorCodes.length) span.setAttribute("shop.error_codes", record.errorCodes);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** Runs `fn` with `span` as the active span, so spans started inside become its children. */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/**
 * Apollo Server plugin: spans for parsing and validation, children of the request span (the
 * gateway's own spans cover planning, execution and each subgraph fetch).
 */
export function tracingPlugin(): ApolloServerPlugin {
  const phase = (name: string) => {
    const span = tracer().startSpan(name);
    return async (error?: unknown) => {
      if (error) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
  };
  return {
    async requestDidStart() {
      return {
        async parsingDidStart() {
          return phase("graphql.parse");
        },
        async validationDidStart() {
          const end = phase("graphql.validate");
          return async (errors?: readonly Error[]) => end(errors && errors.length > 0 ? errors : undefined);
        },
      };
    },
  };
}
