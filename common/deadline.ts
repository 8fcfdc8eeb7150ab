/**
 * The time a service has for one request, in whole milliseconds from its arrival: the caller stops
 * waiting then, so work past it is wasted. Relative rather than an absolute time, so clocks of
 * different machines need not agree.
 */
export const REQUEST_TIMEOUT_HEADER = "x-request-timeout-ms";

/** The longest budget a header may give (an hour): anything larger is not a deadline anyone means. */
const MAX_TIMEOUT_MS = 3_600_000;

/**
 * The budget a request's header gives, in milliseconds; null when absent or not a whole number
 * (then the service's own timeouts apply). Zero or less means the caller has already given up.
 */
export function requestTimeoutOf(value: string | string[] | undefined): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || !/^-?\d{1,10}$/.test(raw)) return null;
  return Math.min(Number(raw), MAX_TIMEOUT_MS);
}
