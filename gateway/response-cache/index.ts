// The response cache: whole answers to operations open to everyone whose subgraphs call them PUBLIC, in memory or Redis.
import type { ApolloServerPlugin, GraphQLRequestContext } from "@apollo/server";
import responseCachePlugin from "@apollo/server-plugin-response-cache";
import { InMemoryLRUCache, type KeyValueCache } from "@apollo/utils.keyvaluecache";
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from "graphql";
import type { Logger } from "pino";
import { loadRedis } from "../../common/index.ts";

export interface ResponseCacheConfig {
  /** RESPONSE_CACHE: cache whole PUBLIC answers. @default true */
  readonly enabled: boolean;
  /** RESPONSE_CACHE_MAX_MB: memory the in-process cache may use. @default 64 */
  readonly maxMegabytes: number;
  /** REDIS_URL: share the cache, and its invalidations, between gateway instances. @default null (memory) */
  readonly redisUrl: string | null;
  /** RESPONSE_CACHE_KEY_PREFIX. @default "shop:responses:" */
  readonly keyPrefix: string;
}

export interface ResponseCacheOptions {
  /**
   * Whether an operation is open to every caller (it selects nothing behind authentication or a
   * scope); only such operations are ever read from or written to the cache.
   */
  isOpen(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean;
  logger: Pick<Logger, "warn" | "error" | "info">;
}

export interface ResponseCache {
  /** Apollo Server plugins: the cache, and the invalidation after each mutation. */
  readonly plugins: readonly ApolloServerPlugin[];
  /** Forgets every cached answer, here and (with Redis) on every other gateway instance. */
  invalidate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Answers that depend on nobody: the computed cache policy (the subgraphs' `Cache-Control`, from
 * their `@cacheControl` hints) is PUBLIC with a max-age, the operation is a query that selects
 * nothing behind `@authenticated`/`@requiresScopes`, and the answer has no errors. Cached answers
 * carry `Age` and `Cache-Control`. A private answer is never kept (no session is ever given to the
 * cache, so PRIVATE has nowhere to go).
 *
 * Invalidation: every mutation that runs through the gateway moves the cache to a new generation
 * (the generation is part of every key), so no answer read before a change to the catalogue, stock
 * included, is served after it. With Redis the generation is shared: an instance that runs a
 * mutation publishes the new one to the others. A change made behind the gateway's back is bounded
 * by the max-age the subgraph gave.
 */
export function createResponseCache(config: ResponseCacheConfig, options: ResponseCacheOptions): ResponseCache {
  if (!config.enabled) return { plugins: [], invalidate: async () => {}, close: async () => {} };
  let generation = 0;
  const shared = config.redisUrl ? redisGeneration(config, options.logger, (next) => (generation = next)) : null;
  const cache: KeyValueCache = shared?.cache ?? new InMemoryLRUCache({ maxSize: config.maxMegabytes * 1024 * 1024 });

  const open = async (context: GraphQLRequestContext<object>): Promise<boolean> =>
    context.operation?.operation === "query" &&
    context.document !== undefined &&
    options.isOpen(context.schema, context.document, context.operation);

  const invalidate = async () => {
    if (!shared) {
      generation++;
      return;
    }
    // The shared counter decides; until Redis answers, stop serving what this instance has.
    generation += 0.5;
    await shared.bump().catch((error: unknown) => {
      options.logger.error({ err: error }, "response cache: invalidation not shared");
    });
  };

  const cachePlugin = responseCachePlugin({
    cache,
    // No session, ever: PRIVATE answers are not cached at all.
    sessionId: async () => null,
    extraCacheKeyData: async () => generation,
    shouldReadFromCache: open,
    shouldWriteToCache: open,
  }) as ApolloServerPlugin;

  const invalidation: ApolloServerPlugin = {
    async requestDidStart() {
      return {
        async willSendResponse(context) {
          if (context.operation?.operation === "mutation") await invalidate();
        },
      };
    },
  };

  return {
    plugins: [cachePlugin, invalidation],
    invalidate,
    close: async () => {
      await shared?.close();
    },
  };
}

/** The cache in Redis, and the generation shared through a counter and a channel. */
function redisGeneration(
  config: ResponseCacheConfig,
  logger: ResponseCacheOptions["logger"],
  onGeneration: (generation: number) => void,
) {
  const prefix = config.keyPrefix;
  const counterKey = `${prefix}generation`;
  const channel = `${prefix}invalidations`;
  const redisOptions = { commandTimeout: 500, maxRetriesPerRequest: 1, lazyConnect: false };
  const Redis = loadRedis();
  const redis = new Redis(config.redisUrl!, redisOptions);
  const subscriber = new Redis(config.redisUrl!, redisOptions);
  let lastError = 0;
  const onError = (error: Error) => {
    if (Date.now() - lastError < 10_000) return;
    lastError = Date.now();
    logger.error({ err: error }, "response cache: redis unavailable (answers are not cached meanwhile)");
  };
  redis.on("error", onError);
  subscriber.on("error", onError);
  // A generation only ever grows: a late message never takes the cache back.
  let seen = 0;
  const adopt = (raw: string | null) => {
    const next = Number(raw ?? 0);
    if (Number.isSafeInteger(next) && next > seen) {
      seen = next;
      onGeneration(next);
    }
  };
  void redis.get(counterKey).then(adopt, onError);
  void subscriber.subscribe(channel).catch(onError);
  subscriber.on("message", (_channel, message) => adopt(message));

  // Errors are misses: a cache that is away must never fail a request.
  const cache: KeyValueCache = {
    get: (key) =>
      redis.get(`${prefix}${key}`).then(
        (value) => value ?? undefined,
        () => undefined,
      ),
    async set(key, value, setOptions) {
      const ttl = setOptions?.ttl;
      await (ttl ? redis.set(`${prefix}${key}`, value, "EX", Math.max(1, Math.ceil(ttl))) : Promise.resolve()).catch(
        () => undefined,
      );
    },
    delete: (key) =>
      redis.del(`${prefix}${key}`).then(
        (n) => n > 0,
        () => false,
      ),
  };
  return {
    cache,
    async bump() {
      const next = await redis.incr(counterKey);
      adopt(String(next));
      await redis.publish(channel, String(next));
    },
    async close() {
      for (const client of [redis, subscriber]) {
        if (client.status === "ready") await client.quit().catch(() => client.disconnect());
        else client.disconnect();
      }
    },
  };
}
