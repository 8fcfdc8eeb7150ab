/** The W3C Trace Context header (https://www.w3.org/TR/trace-context/). */
export const TRACEPARENT_HEADER = "traceparent";

/**
 * `version-traceid-parentid-flags`, lowercase hex as the recommendation requires (and as
 * OpenTelemetry's propagator reads it); a later version may append fields after a dash.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const MAX_LENGTH = 512;

/**
 * The valid `traceparent` in a header value, trimmed, else null — the only form worth passing on.
 * Refused: a repeated header, more than 512 characters, upper-case hex, version `ff`, an all-zero
 * trace or parent id, and a version-00 header with anything after its four fields.
 */
export function validTraceparent(value: string | string[] | undefined): string | null {
  if (typeof value !== "string" || value.length > MAX_LENGTH) return null;
  const trimmed = value.trim();
  const match = TRACEPARENT.exec(trimmed);
  if (!match) return null;
  const [, version, traceId, parentId, , rest] = match;
  if (version === "ff" || /^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return null;
  if (version === "00" && rest !== undefined) return null;
  return trimmed;
}

/** The trace id of a valid `traceparent` header value, else null. */
export function traceIdOf(value: string | string[] | undefined): string | null {
  const valid = validTraceparent(value);
  return valid === null ? null : valid.slice(3, 35);
}
