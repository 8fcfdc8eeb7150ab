/** Logging, metrics and tracing settings, read once by `loadConfig` (gateway/config.ts). */
export interface ObservabilityConfig {
  /** One structured log line per request. @default true (env LOG_REQUESTS) */
  readonly logRequests: boolean;
  /**
   * Per-request metrics (operations, subgraph calls, refusals, plan cache). `/metrics` is served
   * either way, with process and supergraph series. @default true (env METRICS_ENABLED)
   */
  readonly metricsEnabled: boolean;
  /**
   * Distinct operation names kept as label values; later names are counted as "other", unnamed
   * and unresolved operations as "unknown". @default 100 (env METRICS_MAX_OPERATION_NAMES)
   */
  readonly maxOperationNames: number;
  /**
   * OTLP/HTTP base URL (spans go to `<endpoint>/v1/traces`, JSON). Null: tracing is off and no
   * tracer provider is registered. @default null (env OTEL_EXPORTER_OTLP_ENDPOINT, or
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT for the full traces URL)
   */
  readonly otlpTracesUrl: string | null;
  /** `service.name` of exported spans. @default "gateway" (env OTEL_SERVICE_NAME) */
  readonly serviceName: string;
  /**
   * Share of new traces sampled (0–1); a sampled incoming `traceparent` is always followed.
   * @default 1 (env OTEL_TRACES_SAMPLER_ARG)
   */
  readonly traceSampleRatio: number;
}

/** `<base>/v1/traces` for a base OTLP endpoint (the OTEL_EXPORTER_OTLP_ENDPOINT convention). */
export function tracesUrlOf(base: string): string {
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}
