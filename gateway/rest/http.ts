import { createHash } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type ErrorCode, type RestErrorBody, restErrorBody, statusFor } from "../errors.ts";

/** Error members besides code and message a REST client may rely on. */
export const ERROR_DETAILS = ["field", "retryAfter", "productId", "requested", "available", "declineCode"] as const;

/** A refusal the shim answers itself, before or instead of running an operation. */
export class RestError extends Error {
  override name = "RestError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = statusFor(code);
  }
}

export type ErrorBody = RestErrorBody;

/** The REST error body, with only the details a REST client may rely on. */
export function errorBody(code: string, message: string, details: Record<string, unknown> = {}): ErrorBody {
  const kept: Record<string, unknown> = {};
  for (const key of ERROR_DETAILS) if (details[key] !== undefined) kept[key] = details[key];
  return restErrorBody(code, message, kept);
}

/** Strong validator over the exact bytes sent. */
export function etagOf(body: string): string {
  return `"${createHash("sha256").update(body).digest("base64url").slice(0, 32)}"`;
}

/** `If-None-Match` per RFC 9110 §13.1.2: weak comparison, `*` matches any current representation. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((candidate) => candidate.trim().replace(/^W\//, "") === bare);
}

/**
 * Caching rules. A response to a request that carried credentials is `private, no-store`: no
 * shared cache keeps it, whatever it contains. Anonymous GETs may be stored but are revalidated
 * (with the ETag) every time. Every GET varies on Authorization. Errors and POSTs are not stored.
 */
export function cacheHeaders(request: FastifyRequest, reply: FastifyReply, storable: boolean): void {
  const credentials = request.headers.authorization !== undefined;
  reply.header("cache-control", credentials || !storable ? "private, no-store" : "no-cache");
  if (request.method === "GET" || request.method === "HEAD") reply.header("vary", "Authorization");
}

/** Sends `{ "error": { code, message } }` with its status and headers, never cached. */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  body: ErrorBody,
  headers: Record<string, string> = {},
): FastifyReply {
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  cacheHeaders(request, reply, false);
  return reply.code(status).type("application/json; charset=utf-8").send(JSON.stringify(body));
}

export function sendRestError(request: FastifyRequest, reply: FastifyReply, error: RestError): FastifyReply {
  return sendError(request, reply, error.status, errorBody(error.code, error.message, error.details), error.headers);
}

/**
 * Sends a JSON success. GETs carry an ETag and answer a matching If-None-Match with 304 and no
 * body; HEAD is the same response without the body (Fastify strips it).
 */
export function sendJson(request: FastifyRequest, reply: FastifyReply, status: number, value: unknown): FastifyReply {
  const body = JSON.stringify(value);
  const conditional = (request.method === "GET" || request.method === "HEAD") && status === 200;
  cacheHeaders(request, reply, conditional);
  if (conditional) {
    const etag = etagOf(body);
    reply.header("etag", etag);
    if (noneMatch(headerValue(request.headers["if-none-match"]), etag)) return reply.code(304).send();
  }
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
