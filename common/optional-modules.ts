// Libraries only some deployments use, loaded when first asked for, so that a process without Redis, PostgreSQL or tracing never pays for them at start.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** ioredis, for the Redis rate-limit store and the shared response cache (REDIS_URL). */
export const loadRedis = (): typeof import("ioredis").Redis => (require("ioredis") as typeof import("ioredis")).Redis;

/** node-postgres, for a service whose DATABASE_URL is PostgreSQL. */
export const loadPg = (): typeof import("pg").default => require("pg") as typeof import("pg").default;

/** The OpenTelemetry SDK and its OTLP/HTTP exporter, for an OTEL_EXPORTER_OTLP_ENDPOINT. */
export const loadTracingSdk = () => ({
  ...(require("@opentelemetry/context-async-hooks") as typeof import("@opentelemetry/context-async-hooks")),
  ...(require("@opentelemetry/core") as Pick<typeof import("@opentelemetry/core"), "W3CTraceContextPropagator">),
  ...(require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http")),
  ...(require("@opentelemetry/resources") as Pick<typeof import("@opentelemetry/resources"), "Resource">),
  ...(require("@opentelemetry/sdk-trace-base") as typeof import("@opentelemetry/sdk-trace-base")),
});
