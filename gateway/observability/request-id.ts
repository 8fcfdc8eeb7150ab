import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** The response header carrying the request id; also sent to every subgraph call. */
export const REQUEST_ID_HEADER = "x-request-id";

/**
 * Ids a client or proxy may hand in. Anything else (too long, spaces, control characters, quotes)
 * is replaced, so an id can never forge log fields or split a header.
 */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE_ID = "0".repeat(32);

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The trace id of a valid W3C `traceparent` header, else null. */
export function traceIdOf(traceparent: string | string[] | undefined): string | null {
  const value = first(traceparent);
  if (value === undefined || value.length > 512) return null;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match || match[1] === "ff" || match[2] === ZERO_TRACE_ID || /^0+$/.test(match[3]!)) return null;
  // Version 00 has exactly four fields.
  if (match[1] === "00" && value.trim().length !== 55) return null;
  return match[2]!;
}

/**
 * The request id: an acceptable incoming `X-Request-Id` is kept; otherwise the trace id of an
 * incoming `traceparent`, so the caller's trace and this request's logs meet; otherwise a new UUID.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = first(headers[REQUEST_ID_HEADER]);
  if (given !== undefined && ACCEPTABLE_ID.test(given)) return given;
  return traceIdOf(headers.traceparent) ?? randomUUID();
}
