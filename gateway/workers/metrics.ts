import type { Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Channel } from "./limits.ts";
import {
  type CollectedMessage,
  type CollectMessage,
  type ExpositionMessage,
  isMessage,
  type ScrapeMessage,
  type WorkerMetrics,
} from "./messages.ts";

/**
 * Series that describe one process rather than the traffic: kept per worker under a `worker`
 * label (its pid) instead of summed. Summing heap sizes or start times says nothing, and each
 * worker loads the supergraph on its own.
 */
const PER_WORKER = /^(process_|nodejs_|gateway_supergraph_)/;

/** One source of series for the aggregate: a worker (labelled by pid) or the primary itself. */
export interface Source {
  readonly pid: number | null;
  readonly metrics: WorkerMetrics;
}

/**
 * Every worker's series in one registry: traffic series (requests, operations, refusals, …) are
 * summed over the workers, process series are kept apart under `worker="<pid>"`.
 */
export function aggregate(sources: readonly Source[]): Registry {
  return AggregatorRegistry.aggregate(
    sources.map(({ pid, metrics }) =>
      metrics.map((metric) =>
        pid === null || !PER_WORKER.test(metric.name)
          ? metric
          : {
              ...metric,
              // Labels now differ per worker, so summing keeps each worker's value as it is.
              aggregator: "sum" as const,
              values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, worker: String(pid) } })),
            },
      ),
    ),
  );
}

/** A worker's side: /metrics asks the primary, and the primary's collections are answered. */
export function workerMetrics(channel: Channel, timeoutMs = 5000) {
  let registry: Registry | null = null;
  const scrapes = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let next = 0;
  channel.on("message", (message) => {
    if (isMessage<CollectMessage>(message, "gateway:collect")) {
      // A worker still starting has no series yet.
      void Promise.resolve(registry?.getMetricsAsJSON() ?? []).then((metrics) => {
        const reply: CollectedMessage = { type: "gateway:collected", id: message.id, metrics };
        if (channel.connected) channel.send(reply, () => {});
      });
    } else if (isMessage<ExpositionMessage>(message, "gateway:exposition")) {
      const waiting = scrapes.get(message.id);
      if (!waiting) return;
      scrapes.delete(message.id);
      if (message.text !== undefined) waiting.resolve(message.text);
      else waiting.reject(new Error(message.error ?? "no exposition"));
    }
  });
  return {
    /** Answers the primary's collections with these series from now on. */
    serve(local: Registry) {
      registry = local;
    },
    /** Every worker's series, as the primary aggregates them. */
    exposition(): Promise<string> {
      return new Promise((resolve, reject) => {
        if (!channel.connected) return reject(new Error("metrics: the primary is gone"));
        const id = ++next;
        const timer = setTimeout(() => {
          scrapes.delete(id);
          reject(new Error(`metrics: no answer from the primary within ${timeoutMs} ms`));
        }, timeoutMs);
        const settle =
          <T>(done: (value: T) => void) =>
          (value: T) => {
            clearTimeout(timer);
            done(value);
          };
        scrapes.set(id, { resolve: settle(resolve), reject: settle(reject) });
        const message: ScrapeMessage = { type: "gateway:scrape", id };
        channel.send(message, (error) => {
          if (error && scrapes.delete(id)) settle(reject)(error);
        });
      });
    },
  };
}

/**
 * The primary's side: a scrape collects every live worker's series (a worker that does not answer
 * within `timeoutMs`, e.g. one that is dying, is left out) plus the primary's own, and answers the
 * worker that asked.
 */
export function primaryMetrics(options: { workers: () => Iterable<Worker>; own: Registry; timeoutMs?: number }) {
  const timeoutMs = options.timeoutMs ?? 2000;
  const collections = new Map<number, (metrics: WorkerMetrics) => void>();
  let next = 0;

  const collect = (worker: Worker) =>
    new Promise<Source | null>((resolve) => {
      const id = ++next;
      const timer = setTimeout(() => {
        collections.delete(id);
        resolve(null);
      }, timeoutMs);
      collections.set(id, (metrics) => {
        clearTimeout(timer);
        resolve({ pid: worker.process.pid ?? null, metrics });
      });
      const message: CollectMessage = { type: "gateway:collect", id };
      if (worker.isConnected()) worker.send(message);
    });

  const scrape = async () => {
    const sources = await Promise.all([...options.workers()].map(collect));
    const own: Source = { pid: null, metrics: await options.own.getMetricsAsJSON() };
    return aggregate([...sources.filter((s) => s !== null), own]).metrics();
  };

  /** Handles the messages this side owns; false for any other. */
  return function answer(worker: Worker, message: unknown): boolean {
    if (isMessage<CollectedMessage>(message, "gateway:collected")) {
      const done = collections.get(message.id);
      collections.delete(message.id);
      done?.(Array.isArray(message.metrics) ? message.metrics : []);
      return true;
    }
    if (!isMessage<ScrapeMessage>(message, "gateway:scrape")) return false;
    const reply = (answer: Omit<ExpositionMessage, "type" | "id">) => {
      const exposition: ExpositionMessage = { type: "gateway:exposition", id: message.id, ...answer };
      if (worker.isConnected()) worker.send(exposition);
    };
    scrape().then(
      (text) => reply({ text }),
      (error: Error) => reply({ error: error.message }),
    );
    return true;
  };
}
