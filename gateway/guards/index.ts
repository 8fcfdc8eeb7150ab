// Everything that refuses a client for asking too often, too deep or too much: IP lists, throttle, blocks, shape, cost and rate limits.
import type { ApolloServerPlugin } from "@apollo/server";
import type { FastifyInstance } from "fastify";
import type { GraphQLFormattedError, ValidationRule } from "graphql";
import type { Logger } from "pino";
import type { Metric } from "prom-client";
import type { GatewayContext } from "../context.ts";
import { cidrMatcher, createAccessList } from "./access.ts";
import { Blocker } from "./blocker.ts";
import { EMPTY_POLICIES, readSchemaPolicies } from "./directives.ts";
import { restoreGuardCodes } from "./format.ts";
import { installHttpGuards } from "./http.ts";
import { createGuardMetrics } from "./metrics.ts";
import type { GuardsConfig } from "./options.ts";
import { type OperationGuardOptions, operationGuards } from "./plugin.ts";
import { mergeRules } from "./policy.ts";
import { createRateLimiter } from "./rate-limiter.ts";
import { createShapeRule } from "./shape.ts";
import type { LimitStore } from "./store.ts";
import { Throttle } from "./throttle.ts";
import type { WalkPolicies } from "./walker.ts";

export { parseCidrs } from "./access.ts";
export { createMemoryStore, type MemoryStoreOptions } from "./memory-store.ts";
export { DEFAULT_THROTTLE_EXEMPT, type GuardsConfig } from "./options.ts";
export { parseOverrides } from "./policy.ts";
export type { LimitDecision, LimitRequest, LimitStore } from "./store.ts";

export interface Guards {
  /** Cost limit and per-field rate limits (Apollo Server plugin). */
  readonly plugin: ApolloServerPlugin<GatewayContext>;
  /** Shape limits, as validation rules (cached with the document by Apollo Server). */
  readonly validationRules: ValidationRule[];
  /** For Apollo Server's `parseOptions`. */
  readonly parseOptions: { maxTokens?: number };
  readonly allowBatchedHttpRequests: boolean;
  /** Series for the gateway's /metrics registry. */
  readonly metrics: Metric[];
  /** The limits in force, by coordinate (declared in the supergraph, then overridden). */
  readonly policies: () => WalkPolicies;
  /** Wraps the error formatter so guard refusals keep their contract codes. */
  formatError(
    inner: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError,
  ): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Adds the request-level guards (IP lists, blocks, throttle, batch cap) to the root app. */
  install(app: FastifyInstance): void;
  /** Reads `@rateLimit`, `@listSize` and `@cost` from a newly served supergraph. */
  onSupergraph(sdl: string): void;
  close(): Promise<void>;
}

export interface GuardsOptions {
  logger: Logger;
  /** The operation as it will run, when a concern before the guards changed it. @default the operation as sent */
  operationOf?: OperationGuardOptions["operationOf"];
  /** Where rate limits are counted without Redis (and when Redis fails). @default this process's memory */
  rateLimitStore?: LimitStore;
}

/** Everything that refuses a client for asking too often, too deep or too much. */
export function createGuards(config: GuardsConfig, { logger, operationOf, rateLimitStore }: GuardsOptions): Guards {
  const log = logger.child({ component: "guards" });
  const blocker = new Blocker({
    threshold: config.blockThreshold,
    windowMs: config.blockWindowSeconds * 1000,
    durationMs: config.blockDurationSeconds * 1000,
    onBlock: (client, strikes) => {
      metrics.blocks.inc();
      log.warn(
        { client, strikes, seconds: config.blockDurationSeconds },
        "client blocked for repeatedly hitting limits",
      );
    },
  });
  const metrics = createGuardMetrics(() => blocker.blockedCount);
  const throttle =
    config.throttleRps > 0 ? new Throttle({ rps: config.throttleRps, burst: config.throttleBurst }) : null;
  const limiter = createRateLimiter({
    redisUrl: config.redisUrl,
    redisKeyPrefix: config.redisKeyPrefix,
    maxEntries: config.rateLimitMaxEntries,
    logger: log,
    onStoreError: () => metrics.storeErrors.inc(),
    onEvict: () => metrics.evictions.inc(),
    ...(rateLimitStore && { local: rateLimitStore }),
  });
  const exempt = cidrMatcher(config.throttleExempt);

  let policies: WalkPolicies = { ...EMPTY_POLICIES, defaultListSize: config.defaultListSize };
  const current = () => policies;

  return {
    plugin: operationGuards({
      policies: current,
      limiter,
      maxCost: config.maxCost,
      costMode: config.costMode,
      metrics,
      logger: log,
      onRateLimited: (ip) => {
        if (!exempt(ip)) blocker.strike(ip);
      },
      ...(operationOf && { operationOf }),
    }),
    validationRules: [createShapeRule(config, (code) => metrics.refusals.inc({ code, guard: "shape" }))],
    parseOptions: config.maxTokens > 0 ? { maxTokens: config.maxTokens } : {},
    allowBatchedHttpRequests: config.batchMax > 0,
    metrics: metrics.all,
    policies: current,
    formatError: (inner) =>
      restoreGuardCodes(inner, config.maxTokens, () =>
        metrics.refusals.inc({ code: "TOKEN_LIMIT_EXCEEDED", guard: "shape" }),
      ),
    install(app) {
      installHttpGuards(app, {
        allowed: createAccessList(config.ipAllow, config.ipDeny),
        exempt,
        throttle,
        blocker,
        batchMax: config.batchMax,
        metrics,
      });
    },
    onSupergraph(sdl) {
      const read = readSchemaPolicies(sdl);
      for (const problem of read.problems) log.error({ problem }, "supergraph limit declaration ignored");
      const rateLimits = mergeRules(read.rateLimits, config.rateLimitOverrides);
      policies = {
        rateLimits,
        listSizes: read.listSizes,
        weights: read.weights,
        defaultListSize: config.defaultListSize,
      };
      log.info(
        {
          rateLimits: Object.fromEntries(
            [...rateLimits].map(([k, r]) => [k, `${r.max}/${r.windowMs}ms/${r.identity}`]),
          ),
        },
        "rate limits in force",
      );
    },
    async close() {
      throttle?.close();
      blocker.close();
      await limiter.close();
    },
  };
}
