import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { Resource } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";

/**
 * The OTLP/HTTP traces URL from the standard variables (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
 * OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces), or null: then tracing stays off and free.
 */
export function tracesUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.OTEL_TRACES_EXPORTER === "none" || /^(1|true)$/i.test(env.OTEL_SDK_DISABLED ?? "")) return null;
  const full = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (full) return full;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, "")}/v1/traces` : null;
}

let provider: BasicTracerProvider | null = null;
let users = 0;

/**
 * Registers the process's tracer provider (one per process: OpenTelemetry's API holds exactly one)
 * exporting the service's spans to `url` over OTLP/HTTP, with W3C `traceparent` propagation.
 * Returns a closer; the last one closed flushes and shuts the exporter down.
 */
export function startServiceTracing(serviceName: string, url: string): () => Promise<void> {
  if (provider === null) {
    provider = new BasicTracerProvider({
      resource: new Resource({ "service.name": serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 })],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  }
  users++;
  const mine = provider;
  let closed = false;
  return async () => {
    if (closed) return;
    closed = true;
    if (--users > 0) return void (await mine.forceFlush());
    await mine.shutdown();
  };
}
