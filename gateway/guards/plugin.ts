import type { ApolloServerPlugin } from "@apollo/server";
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  Kind,
  type OperationDefinitionNode,
  valueFromASTUntyped,
} from "graphql";
import type { Logger } from "pino";
import type { GatewayContext } from "../context.ts";
import { gatewayError } from "../errors.ts";
import { countObjects, createCostEstimator } from "./cost.ts";
import { rateLimitHeaders, retryAfterSeconds } from "./headers.ts";
import type { GuardMetrics } from "./metrics.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import type { LimitRequest } from "./store.ts";
import { type WalkPolicies, walkOperation } from "./walker.ts";

export interface OperationGuardOptions {
  /** The policies of the supergraph being served (re-read on every reload). */
  policies: () => WalkPolicies;
  limiter: RateLimiter;
  /** 0 turns the cost limit off (costs are still estimated, measured and logged). */
  maxCost: number;
  /** "enforce" refuses operations over the cost limit; "measure" only logs and counts them. */
  costMode: CostMode;
  metrics: GuardMetrics;
  logger: Logger;
  /** A rate-limit refusal for this client IP (the blocker counts strikes). */
  onRateLimited: (ip: string) => void;
  /**
   * The operation as it will run, when another concern changed it before the guards (authorization
   * removes what the caller may not see: that is neither costed nor counted). @default the operation as sent
   */
  operationOf?: (
    contextValue: GatewayContext,
  ) => { document: DocumentNode; operation: OperationDefinitionNode } | undefined;
}

/** How the cost limit acts: refuse, or only log what it would refuse (to calibrate a limit first). */
export type CostMode = "enforce" | "measure";

/** Fragment definitions by name, once per parsed document (Apollo reuses cached documents). */
const fragmentsByDocument = new WeakMap<DocumentNode, Map<string, FragmentDefinitionNode>>();

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  let fragments = fragmentsByDocument.get(document);
  if (!fragments) {
    fragments = new Map();
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    fragmentsByDocument.set(document, fragments);
  }
  return fragments;
}

function variablesOf(operation: OperationDefinitionNode, given: Record<string, unknown> | undefined) {
  const values: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue) {
      values[definition.variable.name.value] = valueFromASTUntyped(definition.defaultValue);
    }
  }
  return { ...values, ...given };
}

/**
 * Cost limit and per-field rate limits, decided before execution (behind @apollo/gateway no
 * resolver of the gateway ever runs, so the operation itself is walked). An operation over a limit
 * is refused whole: nothing reaches a subgraph and nothing is counted. Operations that touch a
 * limited field carry `RateLimit-Policy` / `RateLimit` headers. Every operation's estimated cost,
 * and the objects its answer actually holds, go to the request log and a histogram.
 */
export function operationGuards(options: OperationGuardOptions): ApolloServerPlugin<GatewayContext> {
  const estimator = createCostEstimator();
  const enforce = options.costMode === "enforce";
  return {
    async requestDidStart() {
      let estimated = false;
      return {
        async didResolveOperation(context) {
          const { schema, request, contextValue, response } = context;
          const rewritten = options.operationOf?.(contextValue);
          const { document, operation } = rewritten ?? context;
          if (!operation) return;
          const policies = options.policies();
          const variables = variablesOf(operation, request.variables);
          const fragments = fragmentsOf(document);
          const estimate = estimator.estimate({
            schema,
            policies,
            // A document rewritten for this caller is not the one the query string names: not cached.
            query: rewritten ? null : (request.query ?? null),
            operation,
            fragments,
            variables,
          });
          const operationName = operation.name?.value ?? null;
          if ("invalid" in estimate) {
            if (enforce) {
              options.metrics.refusals.inc({ code: "BAD_USER_INPUT", guard: "cost" });
              throw gatewayError("BAD_USER_INPUT", estimate.invalid);
            }
            options.logger.warn({ operation: operationName, reason: estimate.invalid }, "cost: would refuse");
          } else {
            const cost = Math.ceil(estimate.cost);
            const over = options.maxCost > 0 && cost > options.maxCost;
            estimated = true;
            options.metrics.cost.observe({ measure: "estimated" }, cost);
            const record = contextValue.observation;
            if (record) record.cost = { estimated: cost, actual: null, ...(over && { overLimit: true }) };
            if (over) {
              if (enforce) {
                options.metrics.refusals.inc({ code: "COST_LIMIT_EXCEEDED", guard: "cost" });
                throw gatewayError("COST_LIMIT_EXCEEDED", "Operation is estimated to cost too much", {
                  extensions: { limit: options.maxCost, actual: cost },
                });
              }
              options.metrics.costOverLimit.inc();
              options.logger.warn(
                { operation: operationName, cost, limit: options.maxCost },
                "cost: over the limit, not refused (COST_MODE=measure)",
              );
            }
          }
          if (policies.rateLimits.size === 0) return;
          const walk = walkOperation(schema, operation, fragments, variables, policies);
          if (walk.calls.size === 0) return;
          const { ip, identity } = contextValue;
          const requests: LimitRequest[] = [];
          for (const [coordinate, { rule, count }] of walk.calls) {
            const who = rule.identity === "user" && identity.userId ? `user:${identity.userId}` : `ip:${ip}`;
            requests.push({ identity: who, coordinate, max: rule.max, windowMs: rule.windowMs, count });
          }
          const decisions = await options.limiter.consume(requests);
          const headers = rateLimitHeaders(decisions);
          const refused = decisions.filter((d) => !d.allowed);
          if (refused.length === 0) {
            for (const [name, value] of Object.entries(headers)) response.http.headers.set(name, value);
            return;
          }
          const retryAfter = retryAfterSeconds(Math.max(...refused.map((d) => d.retryAfterMs)));
          const field = refused[0]!.coordinate;
          for (const d of refused) options.metrics.rateLimited.inc({ field: d.coordinate });
          options.metrics.refusals.inc({ code: "RATE_LIMITED", guard: "field" });
          options.onRateLimited(ip);
          throw gatewayError("RATE_LIMITED", `Rate limit exceeded for ${field}; retry in ${retryAfter} s`, {
            headers: { ...headers, "retry-after": String(retryAfter) },
            extensions: { field, retryAfter },
          });
        },
        async willSendResponse({ response, contextValue }) {
          // No data at all: the operation never ran (refused), so there is nothing to measure.
          if (!estimated || response.body.kind !== "single" || response.body.singleResult.data === undefined) return;
          const actual = countObjects(response.body.singleResult.data);
          options.metrics.cost.observe({ measure: "actual" }, actual);
          const record = contextValue.observation;
          if (record?.cost) record.cost.actual = actual;
        },
      };
    },
  };
}
