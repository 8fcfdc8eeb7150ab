import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { loadRedis } from "../../common/index.ts";
import type { LimitDecision, LimitRequest, LimitStore } from "./store.ts";

export interface RedisStoreOptions {
  url: string;
  /** Prefix of every key, so several shops (or test runs) can share a Redis. @default "shop:ratelimit:" */
  keyPrefix?: string;
  /** A command slower than this fails (and the gateway falls back to its own memory). @default 500 */
  commandTimeoutMs?: number;
  logger: Logger;
}

/**
 * Sliding log in sorted sets, decided in one script for all the limited fields of an operation:
 * one round trip, atomic across every gateway instance sharing the Redis. Time is Redis's own
 * clock, so instances with skewed clocks still share one window.
 *
 * KEYS: one sorted set per field. ARGV: a member prefix unique to this operation, then
 * max, windowMs, count for each key. Returns, per key, {allowed, used, resetMs, retryAfterMs}.
 */
const CONSUME = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local used, refused = {}, false
local out = {}
for i = 1, n do
  local max, window, count = tonumber(ARGV[i*3-1]), tonumber(ARGV[i*3]), tonumber(ARGV[i*3+1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  used[i] = redis.call('ZCARD', KEYS[i])
  local retry = 0
  if used[i] + count > max then
    refused = true
    if count > max then
      retry = window
    else
      local oldest = redis.call('ZRANGE', KEYS[i], used[i] + count - max - 1, used[i] + count - max - 1, 'WITHSCORES')
      retry = tonumber(oldest[2]) + window - now
    end
  end
  out[i] = {used[i] + count <= max and 1 or 0, used[i], 0, retry}
end
for i = 1, n do
  local window, count = tonumber(ARGV[i*3]), tonumber(ARGV[i*3+1])
  if not refused then
    local args = {}
    for c = 1, count do
      args[#args+1] = now
      args[#args+1] = ARGV[1] .. ':' .. i .. ':' .. c
    end
    for s = 1, #args, 6000 do
      redis.call('ZADD', KEYS[i], unpack(args, s, math.min(s + 5999, #args)))
    end
    redis.call('PEXPIRE', KEYS[i], window)
    out[i][2] = used[i] + count
  end
  local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  out[i][3] = first[2] and (tonumber(first[2]) + window - now) or window
end
return out
`;

const DOWN = new Set(["reconnecting", "close", "end"]);

type ConsumeReply = [number, number, number, number][];

interface GuardRedis extends Redis {
  guardConsume(keys: number, ...args: (string | number)[]): Promise<ConsumeReply>;
}

export function createRedisStore(options: RedisStoreOptions): LimitStore & { readonly redis: Redis } {
  const prefix = options.keyPrefix ?? "shop:ratelimit:";
  const RedisClient = loadRedis();
  const redis = new RedisClient(options.url, {
    commandTimeout: options.commandTimeoutMs ?? 500,
    maxRetriesPerRequest: 1,
    // Commands wait for the first connection (bounded by commandTimeout); see DOWN below.
    enableOfflineQueue: true,
    lazyConnect: false,
  }) as GuardRedis;
  redis.defineCommand("guardConsume", { lua: CONSUME });
  let lastError = 0;
  redis.on("error", (error) => {
    // Reconnects are automatic; say so at most every 10 s rather than per attempt.
    if (Date.now() - lastError < 10_000) return;
    lastError = Date.now();
    options.logger.error({ err: error }, "rate limit store: redis unavailable");
  });

  return {
    kind: "redis",
    redis,
    async consume(requests: readonly LimitRequest[]): Promise<LimitDecision[]> {
      if (requests.length === 0) return [];
      // Once a connection is lost, fail at once (the memory store decides) rather than queue behind reconnects.
      if (DOWN.has(redis.status)) throw new Error(`redis is ${redis.status}`);
      // The identity is the hash tag, so one client's keys share a slot on a Redis Cluster.
      const keys = requests.map((r) => `${prefix}{${r.identity}}:${r.coordinate}`);
      const args: (string | number)[] = [randomUUID()];
      for (const r of requests) args.push(r.max, r.windowMs, r.count);
      const reply = await redis.guardConsume(keys.length, ...keys, ...args);
      const refused = reply.some(([allowed]) => allowed === 0);
      return requests.map((r, i) => {
        const [allowed, used, resetMs, retryAfterMs] = reply[i]!;
        return {
          coordinate: r.coordinate,
          allowed: allowed === 1,
          max: r.max,
          windowMs: r.windowMs,
          remaining: Math.max(0, r.max - used),
          resetMs: Math.max(0, resetMs),
          retryAfterMs: refused ? Math.max(0, retryAfterMs) : 0,
        };
      });
    },
    async close() {
      // QUIT waits for a connection; while Redis is away, just drop the reconnect loop.
      if (redis.status === "ready") await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}
