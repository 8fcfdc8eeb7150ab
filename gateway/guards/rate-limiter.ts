import type { Logger } from "pino";
import { createMemoryStore } from "./memory-store.ts";
import { createRedisStore } from "./redis-store.ts";
import type { LimitDecision, LimitRequest, LimitStore } from "./store.ts";

export interface RateLimiterOptions {
  /** Share budgets through this Redis; null keeps them in this process. */
  redisUrl: string | null;
  redisKeyPrefix?: string;
  /** @default 100000 */
  maxEntries?: number;
  logger: Logger;
  onStoreError?: () => void;
  onEvict?: () => void;
  /**
   * Decides without Redis, and when Redis fails. Under GATEWAY_WORKERS it is the primary's
   * counters, reached over IPC, so workers share one budget.
   * @default a store in this process's memory
   */
  local?: LimitStore;
}

export interface RateLimiter {
  readonly kind: "memory" | "redis";
  consume(requests: readonly LimitRequest[]): Promise<LimitDecision[]>;
  close(): Promise<void>;
}

/**
 * Picks the store. With Redis, a decision Redis cannot make in time is made by this instance's
 * local store instead (logged and counted): limits keep holding per instance rather than failing
 * open for everyone or refusing the whole shop.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const memory = options.local ?? createMemoryStore({ maxEntries: options.maxEntries, onEvict: options.onEvict });
  const shared: LimitStore | null = options.redisUrl
    ? createRedisStore({ url: options.redisUrl, keyPrefix: options.redisKeyPrefix, logger: options.logger })
    : null;
  return {
    kind: shared ? "redis" : "memory",
    async consume(requests) {
      if (!shared) return memory.consume(requests);
      try {
        return await shared.consume(requests);
      } catch (error) {
        options.onStoreError?.();
        options.logger.warn({ err: error }, "rate limit store failed; deciding in memory");
        return memory.consume(requests);
      }
    },
    async close() {
      await Promise.all([memory.close(), shared?.close()]);
    },
  };
}
