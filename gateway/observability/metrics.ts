import type { FastifyPluginAsync } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from "prom-client";
import type { RequestRecord, SubgraphCall } from "../context.ts";
import type { SupergraphState } from "../supergraph.ts";
import { OperationLabels, UNKNOWN_OPERATION } from "./operation-labels.ts";

export interface GatewayMetricsOptions {
  /** Current supergraph, read at scrape time. */
  supergraph: () => SupergraphState | null;
  /** Collect Node process metrics (CPU, memory, event loop). @default true */
  processMetrics?: boolean;
  /** Series owned by other gateway concerns (guards, …), registered here. @default [] */
  metrics?: readonly Metric[];
  /** Operation names that may earn a label value (see OperationLabels). @default 100 */
  maxOperationNames?: number;
  /** Consecutive minutes of use that earn a name its label. @default 3 */
  operationEarnMinutes?: number;
  /** Minutes without use after which an earned name gives its label back. @default 60 */
  operationRetireMinutes?: number;
  /** Names that always keep their label (trusted documents, the REST shim's operations). @default none */
  pinnedOperationNames?: Iterable<string>;
}

export {
  OperationLabels,
  type OperationLabelsOptions,
  OTHER_OPERATION,
  UNKNOWN_OPERATION,
} from "./operation-labels.ts";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The gateway's Prometheus series, in a registry owned by this gateway instance (several gateways
 * may run in one process; prom-client's global registry is never used). Labels are bounded:
 * routes are Fastify route patterns, operation names pass through OperationLabels, subgraph names
 * come from the supergraph, codes from the error registry and guards.
 */
export function createGatewayMetrics(options: GatewayMetricsOptions) {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  for (const metric of options.metrics ?? []) registry.registerMetric(metric);
  const registers = [registry];

  const httpRequests = new Counter({
    name: "gateway_http_requests_total",
    help: "HTTP requests by route, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers,
  });
  const httpDuration = new Histogram({
    name: "gateway_http_request_duration_seconds",
    help: "HTTP request duration by route and method",
    labelNames: ["route", "method"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const operations = new Counter({
    name: "gateway_operations_total",
    help: "GraphQL operations (from /graphql and the REST shim) by operation name, type, route and HTTP status",
    labelNames: ["operation", "type", "route", "status"] as const,
    registers,
  });
  const operationDuration = new Histogram({
    name: "gateway_operation_duration_seconds",
    help: "GraphQL operation duration, from request to response sent, by operation name, type, route and status",
    labelNames: ["operation", "type", "route", "status"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const operationLabels = new OperationLabels({
    max: options.maxOperationNames ?? 100,
    earnWindows: options.operationEarnMinutes ?? 3,
    retireWindows: options.operationRetireMinutes ?? 60,
    ...(options.pinnedOperationNames && { pinned: options.pinnedOperationNames }),
    // A retired name's series go too, or names that come and go would pile up series.
    onRetire: (name) => void forgetOperation([operations, operationDuration], name),
  });
  const errors = new Counter({
    name: "gateway_errors_total",
    help: "Responses carrying an error, by error code (each code counted once per response)",
    labelNames: ["code"] as const,
    registers,
  });
  const refusals = new Counter({
    name: "gateway_refusals_total",
    help: "Requests refused as a whole (HTTP 4xx/5xx), by the error code they were refused with",
    labelNames: ["code"] as const,
    registers,
  });
  const subgraphRequests = new Counter({
    name: "gateway_subgraph_requests_total",
    help: "Subgraph fetches by subgraph and HTTP status (none: no response)",
    labelNames: ["subgraph", "status"] as const,
    registers,
  });
  const subgraphDuration = new Histogram({
    name: "gateway_subgraph_request_duration_seconds",
    help: "Subgraph fetch duration by subgraph",
    labelNames: ["subgraph"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const subgraphErrors = new Counter({
    name: "gateway_subgraph_errors_total",
    help: "Subgraph fetches that failed (kind unavailable: no response; http: non-2xx) or answered with GraphQL errors (kind graphql)",
    labelNames: ["subgraph", "kind"] as const,
    registers,
  });
  const subgraphInFlight = new Gauge({
    name: "gateway_subgraph_requests_in_flight",
    help: "Subgraph fetches under way, by subgraph",
    labelNames: ["subgraph"] as const,
    registers,
  });
  const planCache = new Counter({
    name: "gateway_query_plan_cache_lookups_total",
    help: "Query plan cache lookups by result (hit, miss)",
    labelNames: ["result"] as const,
    registers,
  });
  new Gauge({
    name: "gateway_supergraph_info",
    help: "The supergraph being served (value 1, labelled by version)",
    labelNames: ["version"] as const,
    registers,
    collect() {
      this.reset();
      const state = options.supergraph();
      if (state) this.set({ version: state.version }, 1);
    },
  });
  new Gauge({
    name: "gateway_supergraph_reloads",
    help: "Supergraph switches since start",
    registers,
    collect() {
      this.set(options.supergraph()?.reloads ?? 0);
    },
  });
  new Gauge({
    name: "gateway_supergraph_refusals",
    help: "Supergraph files refused since start",
    registers,
    collect() {
      this.set(options.supergraph()?.refusals ?? 0);
    },
  });

  return {
    registry,
    /** Every finished HTTP request; `record` when it carried (or tried to carry) an operation. */
    observeRequest(route: string, method: string, status: number, seconds: number, record?: RequestRecord): void {
      const statusLabel = String(status);
      httpRequests.inc({ route, method, status: statusLabel });
      httpDuration.observe({ route, method }, seconds);
      if (!record) return;
      for (const code of record.errorCodes) errors.inc({ code });
      if (record.refusal) refusals.inc({ code: record.refusal.code });
      if (!record.graphql && !record.refusal) return;
      const labels = {
        operation: operationLabels.of(record.operationName),
        type: record.operationType ?? UNKNOWN_OPERATION,
        route,
        status: statusLabel,
      };
      operations.inc(labels);
      operationDuration.observe(labels, seconds);
    },
    /** Marks a subgraph fetch as started; call the returned function with the finished call. */
    subgraphCallStarted(subgraph: string): (call: SubgraphCall) => void {
      subgraphInFlight.inc({ subgraph });
      return (call) => {
        subgraphInFlight.dec({ subgraph });
        subgraphRequests.inc({ subgraph, status: call.status === null ? "none" : String(call.status) });
        subgraphDuration.observe({ subgraph }, call.durationMs / 1000);
        if (call.status === null) subgraphErrors.inc({ subgraph, kind: "unavailable" });
        else if (call.status < 200 || call.status >= 300) subgraphErrors.inc({ subgraph, kind: "http" });
        else if (call.errors > 0) subgraphErrors.inc({ subgraph, kind: "graphql" });
      };
    },
    planCacheLookup(hit: boolean): void {
      planCache.inc({ result: hit ? "hit" : "miss" });
    },
  };
}

/** Removes every series of the metrics whose `operation` label is `name`. */
export async function forgetOperation(
  metrics: readonly (Counter<string> | Histogram<string>)[],
  name: string,
): Promise<void> {
  for (const metric of metrics) {
    const { values } = await metric.get();
    for (const { labels } of values) {
      // A histogram's bucket samples carry `le`; its count sample names the series.
      if (labels.operation === name && labels.le === undefined) metric.remove(labels as Record<string, string>);
    }
  }
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

export type MetricsOptions = GatewayMetricsOptions & {
  /** The gateway's series; made from the other options when absent. */
  instruments?: GatewayMetrics;
};

/**
 * `GET /metrics` in Prometheus text format. The series are recorded by the gateway's observability
 * hooks (gateway/observability), which see every route; this plugin only serves them.
 */
export const metricsRoutes: FastifyPluginAsync<MetricsOptions> = async (app, options) => {
  const { registry } = options.instruments ?? createGatewayMetrics(options);
  app.get("/metrics", async (_request, reply) =>
    reply
      .header("content-type", registry.contentType)
      .header("cache-control", "no-store")
      .send(await registry.metrics()),
  );
};
