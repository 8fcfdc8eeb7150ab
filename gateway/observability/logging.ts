import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { RequestRecord } from "../context.ts";

/**
 * Paths of every secret a request can carry, censored wherever they appear in any log line the
 * gateway's logger writes (the request log below never includes headers or variables at all;
 * this is the net under other modules' `logger.x({ … })` calls).
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["set-cookie"]',
  'req.headers["x-identity-token"]',
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  'headers["x-identity-token"]',
  "authorization",
  "cookie",
  "password",
  "token",
  "*.password",
  "*.token",
  "*.authorization",
  "*.cookie",
  "*.accessToken",
  "*.refreshToken",
  "*.identityToken",
  "variables",
  "*.variables",
];

/** Routes logged at debug only: probes and scrapes would drown the request log. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

/** Longest raw operation name logged for an operation that did not resolve. */
const MAX_RAW_NAME = 100;

export interface RequestLogOptions {
  logger: Logger;
}

/**
 * The request log: one JSON line per request, written after the response went out, with who
 * called what (request id, trace id, client IP, user id, operation or REST route), the outcome
 * (HTTP status, error codes, refusal reason), how long it took and each subgraph call (name,
 * instance, duration, status). Headers, variables and bodies are never part of it.
 *
 * Levels: `info` for answered requests, `warn` for refusals (4xx with a code — authentication,
 * rate limits, guards and shape limits, with their reason), `error` for 5xx.
 */
export function createRequestLog(options: RequestLogOptions) {
  const log = options.logger.child({ component: "request" });
  return (request: FastifyRequest, reply: FastifyReply, record: RequestRecord | undefined): void => {
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const quiet = QUIET_ROUTES.has(route) && status < 500;
    const level = quiet ? "debug" : status >= 500 ? "error" : record?.refusal ? "warn" : "info";
    if (!log.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = {
      requestId: record?.requestId ?? request.id,
      ip: request.ip,
      method: request.method,
      route,
      status,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (record) {
      if (record.traceId) line.traceId = record.traceId;
      if (record.userId) line.userId = record.userId;
      if (record.clientId) line.clientId = record.clientId;
      if (record.operationName !== null || record.operationType !== null) {
        line.operation = { name: record.operationName, type: record.operationType };
      } else if (record.requestedOperation) {
        line.operation = { name: record.requestedOperation.slice(0, MAX_RAW_NAME), type: null, resolved: false };
      }
      if (record.errorCodes.length > 0) line.errors = record.errorCodes;
      if (record.refusal) line.refusal = record.refusal;
      if (record.cost) line.cost = record.cost;
      if (record.subgraphCalls.length > 0) line.subgraphs = record.subgraphCalls;
      if (record.droppedCalls > 0) line.subgraphCallsNotShown = record.droppedCalls;
    }
    const message = record?.refusal
      ? `request refused: ${record.refusal.code}`
      : status >= 500
        ? "request failed"
        : "request completed";
    log[level](line, message);
  };
}
