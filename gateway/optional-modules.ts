// Libraries only some deployments use, loaded when first asked for, so a gateway without Redis or tracing never pays for them at start.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** ioredis, for the Redis rate-limit store and the shared response cache (REDIS_URL). */
export const loadRedis = (): typeof import("ioredis").Redis => (require("ioredis") as typeof import("ioredis")).Redis;

/** The OpenTelemetry SDK and its OTLP/HTTP exporter, for an OTEL_EXPORTER_OTLP_ENDPOINT. */
export const loadTracingSdk = () => ({
  ...(require("@opentelemetry/context-async-hooks") as typeof import("@opentelemetry/context-async-hooks")),
  ...(require("@opentelemetry/core") as Pick<typeof import("@opentelemetry/core"), "W3CTraceContextPropagator">),
  ...(require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http")),
  ...(require("@opentelemetry/resources") as Pick<typeof import("@opentelemetry/resources"), "Resource">),
  ...(require("@opentelemetry/sdk-trace-base") as typeof import("@opentelemetry/sdk-trace-base")),
});
