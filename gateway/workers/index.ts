// Running the gateway on GATEWAY_WORKERS processes: the supervising primary, its shared rate-limit counters and aggregated /metrics, and each worker's link to it.
import cluster from "node:cluster";

export { type PrimaryOptions, runPrimary } from "./primary.ts";
export { connectToPrimary, type WorkerLink } from "./worker.ts";

/** True in a worker forked by the primary. */
export const isWorker = (): boolean => cluster.isWorker;
