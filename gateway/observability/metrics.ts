import type { FastifyPluginAsync } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from "prom-client";
import type { RequestRecord, SubgraphCall } from "../context.ts";
import type { SupergraphState } from "../supergraph.ts";

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

/** Label value of unnamed operations and of requests whose operation never resolved. */
export const UNKNOWN_OPERATION = "unknown";
/** Label value of named operations past the cap. */
export const OTHER_OPERATION = "other";

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

export interface OperationLabelsOptions {
  /** Names that always have their label: trusted documents and the gateway's own. @default none */
  pinned?: Iterable<string>;
  /** Names that may hold an earned label at the same time. @default 100 */
  max?: number;
  /** Length of one observation window. @default 60000 (a minute) */
  windowMs?: number;
  /** Consecutive windows a name must be used in to earn its label. @default 3 */
  earnWindows?: number;
  /** Windows without use after which an earned name gives its label back. @default 60 */
  retireWindows?: number;
  /** New names followed while they earn; more wait until older ones lapse. @default max(1000, 10 × max) */
  maxCandidates?: number;
  /** Told when an earned name gives its label back, so its series can be dropped. */
  onRetire?: (name: string) => void;
  /** @default Date.now */
  now?: () => number;
}

/** When a name was last used (window number) and for how many consecutive windows. */
interface Standing {
  lastWindow: number;
  streak: number;
}

/**
 * Keeps the `operation` label bounded without letting any client squat or evict a label.
 * Only names of operations that resolved against the schema are candidates. Trusted documents'
 * names always have their label. Any other name earns one only by being used in `earnWindows`
 * consecutive windows (a burst of one-off names earns nothing, and a candidate that misses a window
 * starts over), while fewer than `max` names hold one; an earned label is never taken away by
 * other traffic, only given back after `retireWindows` without use. Everything else is "other".
 * Per call: a regex test, a clock read and one or two Map lookups; an object is allocated only for
 * a new candidate (bounded by `maxCandidates`).
 */
export class OperationLabels {
  private readonly pinned: ReadonlySet<string>;
  private readonly earned = new Map<string, Standing>();
  private readonly candidates = new Map<string, Standing>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly earnWindows: number;
  private readonly retireWindows: number;
  private readonly maxCandidates: number;
  private readonly now: () => number;
  private window = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: OperationLabelsOptions = {}) {
    this.pinned = new Set(options.pinned ?? []);
    this.max = options.max ?? 100;
    this.windowMs = options.windowMs ?? 60_000;
    this.earnWindows = options.earnWindows ?? 3;
    this.retireWindows = options.retireWindows ?? 60;
    this.maxCandidates = options.maxCandidates ?? Math.max(1000, 10 * this.max);
    this.now = options.now ?? Date.now;
  }

  of(name: string | null): string {
    if (name === null || !GRAPHQL_NAME.test(name)) return UNKNOWN_OPERATION;
    if (this.pinned.has(name)) return name;
    const window = Math.floor(this.now() / this.windowMs);
    if (window !== this.window) this.roll(window);
    const held = this.earned.get(name);
    if (held) {
      held.lastWindow = window;
      return name;
    }
    if (this.max === 0) return OTHER_OPERATION;
    let candidate = this.candidates.get(name);
    if (!candidate) {
      if (this.candidates.size >= this.maxCandidates) return OTHER_OPERATION;
      candidate = { lastWindow: window, streak: 1 };
      this.candidates.set(name, candidate);
    } else if (candidate.lastWindow !== window) {
      candidate.streak = candidate.lastWindow === window - 1 ? candidate.streak + 1 : 1;
      candidate.lastWindow = window;
    }
    if (candidate.streak < this.earnWindows || this.earned.size >= this.max) return OTHER_OPERATION;
    this.candidates.delete(name);
    this.earned.set(name, candidate);
    return name;
  }

  /** Once per window: candidates that missed the last window lapse, long-unused labels retire. */
  private roll(window: number): void {
    this.window = window;
    for (const [name, candidate] of this.candidates) {
      if (candidate.lastWindow < window - 1) this.candidates.delete(name);
    }
    for (const [name, standing] of this.earned) {
      if (standing.lastWindow <= window - this.retireWindows) {
        this.earned.delete(name);
        this.options.onRetire?.(name);
      }
    }
  }
}

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

/** Removes every series of a metric whose `operation` label is `name`. */
async function forgetOperation(metrics: readonly (Counter<string> | Histogram<string>)[], name: string): Promise<void> {
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
