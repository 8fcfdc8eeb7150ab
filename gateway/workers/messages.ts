import type { MetricObjectWithValues, MetricValue } from "prom-client";
import type { LimitDecision, LimitRequest } from "../guards/index.ts";

/*
 * What the primary and its workers say to each other over the cluster's IPC channel. Every
 * message has a `type` in the "gateway:" namespace, so anything else on the channel is ignored.
 */

/** Worker → primary: one operation's limited fields, decided together. */
export interface ConsumeMessage {
  readonly type: "gateway:consume";
  readonly id: number;
  readonly requests: readonly LimitRequest[];
}

/** Primary → worker: the decisions, in the order of the requests. */
export interface DecisionsMessage {
  readonly type: "gateway:decisions";
  readonly id: number;
  readonly decisions: readonly LimitDecision[];
}

/** Worker → primary: a scrape of /metrics wants every worker's series. */
export interface ScrapeMessage {
  readonly type: "gateway:scrape";
  readonly id: number;
}

/** Primary → worker: the aggregated exposition, or why there is none. */
export interface ExpositionMessage {
  readonly type: "gateway:exposition";
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

/** Primary → worker: send your series. */
export interface CollectMessage {
  readonly type: "gateway:collect";
  readonly id: number;
}

export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** Worker → primary: this worker's series. */
export interface CollectedMessage {
  readonly type: "gateway:collected";
  readonly id: number;
  readonly metrics: WorkerMetrics;
}

/** Primary → worker: stop accepting, finish what is in flight, exit. */
export interface StopMessage {
  readonly type: "gateway:stop";
}

export type ToPrimary = ConsumeMessage | ScrapeMessage | CollectedMessage;
export type ToWorker = DecisionsMessage | ExpositionMessage | CollectMessage | StopMessage;

export function isMessage<T extends { type: string }>(message: unknown, type: T["type"]): message is T {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === type;
}
