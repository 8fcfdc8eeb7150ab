import { Counter, Gauge, Histogram, type Metric } from "prom-client";

/** The guards' series; registered by the gateway's own /metrics registry (none are global). */
export function createGuardMetrics(blockedNow: () => number) {
  const refusals = new Counter({
    name: "gateway_guard_refusals_total",
    help: "Requests or operations refused by a guard, by code (RATE_LIMITED, DEPTH_LIMIT_EXCEEDED, …) and guard",
    labelNames: ["code", "guard"] as const,
    registers: [],
  });
  const rateLimited = new Counter({
    name: "gateway_rate_limited_total",
    help: "Operations refused by a per-field rate limit, by field coordinate",
    labelNames: ["field"] as const,
    registers: [],
  });
  const blocks = new Counter({
    name: "gateway_clients_blocked_total",
    help: "Clients blocked for repeatedly hitting limits",
    registers: [],
  });
  const storeErrors = new Counter({
    name: "gateway_rate_limit_store_errors_total",
    help: "Rate limit decisions the shared store could not make (the instance's own memory decided)",
    registers: [],
  });
  const evictions = new Counter({
    name: "gateway_rate_limit_evictions_total",
    help: "Live rate-limit entries dropped to keep the in-memory store bounded",
    registers: [],
  });
  const cost = new Histogram({
    name: "gateway_operation_cost",
    help: "Cost of each operation: estimated before execution, and actual (objects in the answer's data), to calibrate MAX_COST and list sizes",
    labelNames: ["measure"] as const,
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 50_000],
    registers: [],
  });
  const costOverLimit = new Counter({
    name: "gateway_cost_over_limit_total",
    help: "Operations over MAX_COST that COST_MODE=measure let through",
    registers: [],
  });
  const blocked = new Gauge({
    name: "gateway_clients_blocked",
    help: "Clients blocked right now",
    registers: [],
    collect() {
      this.set(blockedNow());
    },
  });
  return {
    refusals,
    rateLimited,
    blocks,
    storeErrors,
    evictions,
    cost,
    costOverLimit,
    all: [refusals, rateLimited, blocks, storeErrors, evictions, cost, costOverLimit, blocked] as Metric[],
  };
}

export type GuardMetrics = ReturnType<typeof createGuardMetrics>;
