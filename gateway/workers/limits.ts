import type { Worker } from "node:cluster";
import type { LimitDecision, LimitRequest, LimitStore } from "../guards/index.ts";
import { type ConsumeMessage, type DecisionsMessage, isMessage } from "./messages.ts";

/** How a worker reaches its primary (the worker's `process`). */
export interface Channel {
  readonly connected: boolean;
  send(message: unknown, callback: (error: Error | null) => void): boolean;
  on(event: "message", listener: (message: unknown) => void): unknown;
}

export interface IpcLimitStoreOptions {
  channel: Channel;
  /** A decision the primary has not sent by then is a refusal. @default 1000 */
  timeoutMs?: number;
  /** Told once per refusal made because the primary could not decide. */
  onUnavailable?: (reason: string) => void;
}

/** Refused until the primary answers again: the budget cannot be checked, so nothing spends it. */
const RETRY_MS = 1000;

export function unavailable(requests: readonly LimitRequest[]): LimitDecision[] {
  return requests.map((r) => ({
    coordinate: r.coordinate,
    allowed: false,
    max: r.max,
    windowMs: r.windowMs,
    remaining: 0,
    resetMs: RETRY_MS,
    retryAfterMs: RETRY_MS,
  }));
}

/**
 * A worker's rate-limit store: the primary holds the counters (one memory store for every worker),
 * so a limit of M lets M through whichever worker serves. One message per operation carries all
 * its limited fields, decided together as the memory store does. Fails closed: without an answer
 * from the primary (gone, or slower than `timeoutMs`) the operation is refused with RATE_LIMITED
 * and a short Retry-After, never let through uncounted.
 */
export function ipcLimitStore(options: IpcLimitStoreOptions): LimitStore {
  const timeoutMs = options.timeoutMs ?? 1000;
  const pending = new Map<
    number,
    { requests: readonly LimitRequest[]; resolve: (decisions: LimitDecision[]) => void; timer: NodeJS.Timeout }
  >();
  let next = 0;
  options.channel.on("message", (message) => {
    if (!isMessage<DecisionsMessage>(message, "gateway:decisions")) return;
    const waiting = pending.get(message.id);
    if (!waiting) return; // already refused for being late
    pending.delete(message.id);
    clearTimeout(waiting.timer);
    waiting.resolve([...message.decisions]);
  });
  const refuse = (requests: readonly LimitRequest[], reason: string) => {
    options.onUnavailable?.(reason);
    return unavailable(requests);
  };
  return {
    kind: "memory",
    consume(requests) {
      if (requests.length === 0) return Promise.resolve([]);
      if (!options.channel.connected) return Promise.resolve(refuse(requests, "the primary is gone"));
      return new Promise((resolve) => {
        const id = ++next;
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(refuse(requests, `no answer from the primary within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { requests, resolve, timer });
        const message: ConsumeMessage = { type: "gateway:consume", id, requests };
        const fail = (error: Error) => {
          if (!pending.delete(id)) return;
          clearTimeout(timer);
          resolve(refuse(requests, error.message));
        };
        try {
          options.channel.send(message, (error) => error && fail(error));
        } catch (error) {
          fail(error as Error);
        }
      });
    },
    async close() {
      for (const [id, waiting] of pending) {
        clearTimeout(waiting.timer);
        pending.delete(id);
        waiting.resolve(unavailable(waiting.requests));
      }
    },
  };
}

/** The primary's side: decides a worker's operation in the shared store and answers that worker. */
export function answerConsume(store: LimitStore, worker: Worker, message: unknown): boolean {
  if (!isMessage<ConsumeMessage>(message, "gateway:consume")) return false;
  const requests = Array.isArray(message.requests) ? message.requests : [];
  store
    .consume(requests)
    .catch(() => unavailable(requests))
    .then((decisions) => {
      const reply: DecisionsMessage = { type: "gateway:decisions", id: message.id, decisions };
      if (worker.isConnected()) worker.send(reply);
    });
  return true;
}
