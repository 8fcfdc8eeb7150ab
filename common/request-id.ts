import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { traceIdOf } from "./trace-context.ts";

/** The header a request id travels in: read from callers, echoed on responses, sent to peers. */
export const REQUEST_ID_HEADER = "x-request-id";

/**
 * Ids a client or proxy may hand in. Anything else (too long, spaces, control characters, quotes)
 * is replaced, so an id can never forge log fields or split a header.
 */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** True when `value` may be kept as a request id. */
export function isAcceptableRequestId(value: unknown): value is string {
  return typeof value === "string" && ACCEPTABLE_ID.test(value);
}

/**
 * The request id: an acceptable incoming `X-Request-Id` is kept; otherwise the trace id of a valid
 * incoming `traceparent`, so the caller's trace and this request's logs meet; otherwise a new UUID.
 * A header sent more than once is not acceptable (which one would be meant?).
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = headers[REQUEST_ID_HEADER];
  if (isAcceptableRequestId(given)) return given;
  return traceIdOf(headers.traceparent) ?? randomUUID();
}
