import { context, propagation, trace } from "@opentelemetry/api";
import type { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { loadTracingSdk } from "../../common/index.ts";

let provider: BasicTracerProvider | null = null;
let users = 0;

/**
 * Registers the process's tracer provider (one per process: OpenTelemetry's API holds exactly one)
 * exporting the service's spans to `url` over OTLP/HTTP, with W3C `traceparent` propagation.
 * Returns a closer; the last one closed flushes and shuts the exporter down.
 */
export function startServiceTracing(serviceName: string, url: string): () => Promise<void> {
  if (provider === null) {
    const {
      AsyncLocalStorageContextManager,
      BasicTracerProvider,
      BatchSpanProcessor,
      OTLPTraceExporter,
      Resource,
      W3CTraceContextPropagator,
    } = loadTracingSdk();
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
