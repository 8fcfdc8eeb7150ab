import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { LimitStore } from "../guards/index.ts";
import { type Channel, ipcLimitStore } from "./limits.ts";
import { isMessage, type StopMessage } from "./messages.ts";
import { workerMetrics } from "./metrics.ts";

/** What a worker's gateway is built with, and how the worker hears that it must stop. */
export interface WorkerLink {
  /** The primary's shared counters (used when REDIS_URL is unset, and when Redis fails). */
  readonly rateLimitStore: LimitStore;
  /** /metrics: every worker's series, aggregated by the primary. */
  readonly metricsExposition: () => Promise<string>;
  /** Once the gateway is built: its series answer the primary, its logger reports refusals. */
  attach(gateway: { readonly metricsRegistry: Registry; readonly logger: Logger }): void;
  /** Called once when the primary asks this worker to stop or is gone. */
  onStop(listener: (reason: string) => void): void;
}

/** Connects a cluster worker to its primary. Call it first, before the gateway is built. */
export function connectToPrimary(proc: NodeJS.Process = process): WorkerLink {
  const channel: Channel = {
    get connected() {
      return proc.connected;
    },
    send(message, callback) {
      if (proc.send) return proc.send(message, callback);
      callback(new Error("no IPC channel"));
      return false;
    },
    on: (event, listener) => proc.on(event, listener),
  };
  let logger: Logger | null = null;
  let lastWarning = 0;
  const rateLimitStore = ipcLimitStore({
    channel,
    onUnavailable: (reason) => {
      // Refusals are counted by the guards; say why at most every 10 s.
      if (Date.now() - lastWarning < 10_000) return;
      lastWarning = Date.now();
      logger?.error({ reason }, "rate limits: the primary cannot decide; refusing limited operations");
    },
  });
  const metrics = workerMetrics(channel);
  const listeners: ((reason: string) => void)[] = [];
  let stopped: string | null = null;
  const stop = (reason: string) => {
    if (stopped !== null) return;
    stopped = reason;
    for (const listener of listeners) listener(reason);
  };
  channel.on("message", (message) => {
    if (isMessage<StopMessage>(message, "gateway:stop")) stop("primary asked");
  });
  // SIGHUP is the primary's (a rolling restart): a hangup sent to the whole process group must not
  // kill every worker at once while the primary replaces them one by one.
  proc.on("SIGHUP", () => {});
  // The primary is gone (killed, crashed): nothing supervises this worker any more.
  proc.on("disconnect", () => stop("primary exited"));
  return {
    rateLimitStore,
    metricsExposition: () => metrics.exposition(),
    attach(gateway) {
      logger = gateway.logger;
      metrics.serve(gateway.metricsRegistry);
    },
    onStop(listener) {
      if (stopped !== null) listener(stopped);
      else listeners.push(listener);
    },
  };
}
