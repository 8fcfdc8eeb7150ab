import { Counter, Gauge, type Metric } from "prom-client";

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
    all: [refusals, rateLimited, blocks, storeErrors, evictions, blocked] as Metric[],
  };
}

export type GuardMetrics = ReturnType<typeof createGuardMetrics>;
