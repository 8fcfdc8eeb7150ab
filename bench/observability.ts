/**
 * What logging and metrics cost: the gateway with the request log and per-request metrics off
 * (baseline), with metrics only, and with both (the default), on the same federated queries.
 * `node --import tsx bench/observability.ts` (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS).
 * The request log goes to the gateway's stdout (here /dev/null): serialising each line is counted.
 */
import { compare, shopScenarios } from "./lib.ts";

await compare({
  title: "observability: request log and metrics off (baseline) vs metrics only vs both (default)",
  variants: [
    { name: "log+metrics off", env: { LOG_REQUESTS: "false", METRICS_ENABLED: "false" } },
    { name: "metrics only", env: { LOG_REQUESTS: "false", METRICS_ENABLED: "true" } },
    { name: "log+metrics on", env: { LOG_REQUESTS: "true", METRICS_ENABLED: "true", LOG_LEVEL: "info" } },
  ],
  scenarios: (ctx) => shopScenarios(ctx),
});
