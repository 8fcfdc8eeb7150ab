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
   * Operation names that may earn a label value of their own (names of trusted documents always
   * have one); the rest are counted as "other", unnamed and unresolved operations as "unknown".
   * @default 100 (env METRICS_MAX_OPERATION_NAMES)
   */
  readonly maxOperationNames: number;
  /**
   * A name earns its label by being used in this many consecutive minutes.
   * @default 3 (env METRICS_OPERATION_EARN_MINUTES)
   */
  readonly operationEarnMinutes: number;
  /**
   * An earned name unused this many minutes gives its label back.
   * @default 60 (env METRICS_OPERATION_RETIRE_MINUTES)
   */
  readonly operationRetireMinutes: number;
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
