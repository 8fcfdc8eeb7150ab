import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorCode, errorBody, errorShapeOf, statusFor } from "../errors.ts";
import { normalizeIp } from "./access.ts";
import type { Blocker } from "./blocker.ts";
import { retryAfterSeconds } from "./headers.ts";
import type { GuardMetrics } from "./metrics.ts";
import type { Throttle } from "./throttle.ts";

export interface HttpGuardOptions {
  /** False: the client IP is not allowed (IP_ALLOW / IP_DENY). */
  allowed: (ip: string) => boolean;
  /** True: never throttled nor blocked. */
  exempt: (ip: string) => boolean;
  throttle: Throttle | null;
  blocker: Blocker;
  /** 0: batching is off (Apollo Server refuses array bodies itself). */
  batchMax: number;
  metrics: GuardMetrics;
}

/** Probes answer whatever the client: load balancers must always see the truth. */
const UNGUARDED = new Set(["/healthz", "/readyz"]);

/**
 * Request-level guards on the root Fastify instance, so they cover /graphql, the REST shim and
 * anything registered later: IP allow/deny, blocked clients, the per-client throttle, and the cap
 * on batched operations. A refusal is answered in the shape of the route (errors.ts).
 */
export function installHttpGuards(app: FastifyInstance, options: HttpGuardOptions): void {
  const { metrics, blocker, throttle } = options;

  app.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?", 1)[0]!;
    if (UNGUARDED.has(path)) return;
    const ip = normalizeIp(request.ip);
    if (!options.allowed(ip)) {
      metrics.refusals.inc({ code: "FORBIDDEN", guard: "ip" });
      return refuse(reply, path, "FORBIDDEN", "This address may not use the API");
    }
    if (options.exempt(ip)) return;
    const blockedMs = blocker.blockedFor(ip);
    if (blockedMs > 0) {
      metrics.refusals.inc({ code: "RATE_LIMITED", guard: "blocked" });
      return refuse(reply, path, "RATE_LIMITED", "Too many refused requests; blocked for a while", blockedMs);
    }
    if (throttle) {
      const { allowed, retryAfterMs } = throttle.take(ip);
      if (!allowed) {
        metrics.refusals.inc({ code: "RATE_LIMITED", guard: "throttle" });
        blocker.strike(ip);
        return refuse(reply, path, "RATE_LIMITED", "Too many requests", retryAfterMs);
      }
    }
  });

  app.addHook("preHandler", async (request: FastifyRequest, reply) => {
    if (!Array.isArray(request.body)) return;
    const path = request.url.split("?", 1)[0]!;
    if (options.batchMax > 0 && request.body.length > options.batchMax) {
      metrics.refusals.inc({ code: "BATCH_LIMIT_EXCEEDED", guard: "batch" });
      return refuse(reply, path, "BATCH_LIMIT_EXCEEDED", `At most ${options.batchMax} operations per batch`, 0, {
        limit: options.batchMax,
        actual: request.body.length,
      });
    }
    // Each operation of a batch is a request for the throttle.
    const ip = normalizeIp(request.ip);
    if (throttle && request.body.length > 1 && !options.exempt(ip)) {
      const { allowed, retryAfterMs } = throttle.take(ip, request.body.length - 1);
      if (!allowed) {
        metrics.refusals.inc({ code: "RATE_LIMITED", guard: "throttle" });
        blocker.strike(ip);
        return refuse(reply, path, "RATE_LIMITED", "Too many requests", retryAfterMs);
      }
    }
  });
}

function refuse(
  reply: FastifyReply,
  path: string,
  code: ErrorCode,
  message: string,
  retryAfterMs = 0,
  extra: Record<string, unknown> = {},
) {
  const retryAfter = retryAfterMs > 0 ? retryAfterSeconds(retryAfterMs) : undefined;
  if (retryAfter !== undefined) reply.header("retry-after", String(retryAfter));
  reply.code(statusFor(code)).header("cache-control", "no-store");
  const details = { ...(retryAfter !== undefined && { retryAfter }), ...extra };
  return reply.type("application/json; charset=utf-8").send(errorBody(errorShapeOf(path), code, message, details));
}
