import type { FastifyPluginAsync } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { SupergraphState } from "../supergraph.ts";

export interface MetricsOptions {
  /** Current supergraph, read at scrape time. */
  supergraph: () => SupergraphState | null;
  /** Collect Node process metrics (CPU, memory, event loop). @default true */
  processMetrics?: boolean;
}

/**
 * `GET /metrics` in Prometheus text format, from a registry owned by this gateway instance.
 * HTTP series are labelled by route pattern, never by raw URL, so cardinality stays bounded.
 */
export const metricsRoutes: FastifyPluginAsync<MetricsOptions> = async (app, options) => {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "gateway_http_requests_total",
    help: "HTTP requests by route, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "gateway_http_request_duration_seconds",
    help: "HTTP request duration by route and method",
    labelNames: ["route", "method"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: "gateway_supergraph_info",
    help: "The supergraph being served (value 1, labelled by version)",
    labelNames: ["version"] as const,
    registers: [registry],
    collect() {
      this.reset();
      const state = options.supergraph();
      if (state) this.set({ version: state.version }, 1);
    },
  });
  new Gauge({
    name: "gateway_supergraph_reloads",
    help: "Supergraph switches since start",
    registers: [registry],
    collect() {
      this.set(options.supergraph()?.reloads ?? 0);
    },
  });
  new Gauge({
    name: "gateway_supergraph_refusals",
    help: "Supergraph files refused since start",
    registers: [registry],
    collect() {
      this.set(options.supergraph()?.refusals ?? 0);
    },
  });

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    if (route === "/metrics") return;
    requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    duration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });
  app.get("/metrics", async (_request, reply) =>
    reply
      .header("content-type", registry.contentType)
      .header("cache-control", "no-store")
      .send(await registry.metrics()),
  );
};
