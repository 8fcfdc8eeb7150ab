// Running the gateway on GATEWAY_WORKERS processes: the supervising primary (and its rolling restart), its shared rate-limit counters and aggregated /metrics, each worker's link to it, and the connection drain that lets a closing process's kept-alive clients leave cleanly.
import cluster from "node:cluster";
import { WORKER_OF } from "./primary.ts";

export { type ConnectionDrain, type ConnectionDrainOptions, connectionDrain } from "./drain.ts";
export { type PrimaryOptions, runPrimary } from "./primary.ts";
export { connectToPrimary, type WorkerLink } from "./worker.ts";

/**
 * True in a worker forked by this gateway's primary, not in one of another process manager's
 * cluster (which would never answer the worker's messages).
 */
export const isWorker = (): boolean => cluster.isWorker && process.env[WORKER_OF] === String(process.ppid);
