import type { LimitDecision } from "./store.ts";

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/**
 * `RateLimit-Policy` and `RateLimit` (IETF httpapi ratelimit-headers draft, structured fields):
 * one item per limited field the operation touched, named by its coordinate.
 *   RateLimit-Policy: "Mutation.login";q=5;w=60
 *   RateLimit: "Mutation.login";r=4;t=60
 */
export function rateLimitHeaders(decisions: readonly LimitDecision[]): Record<string, string> {
  if (decisions.length === 0) return {};
  return {
    "ratelimit-policy": decisions.map((d) => `"${d.coordinate}";q=${d.max};w=${seconds(d.windowMs)}`).join(", "),
    ratelimit: decisions.map((d) => `"${d.coordinate}";r=${d.remaining};t=${seconds(d.resetMs)}`).join(", "),
  };
}

/** Whole seconds a refused client should wait (at least 1), for `Retry-After` and `extensions.retryAfter`. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
