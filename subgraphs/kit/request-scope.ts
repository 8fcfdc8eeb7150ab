import { AsyncLocalStorage } from "node:async_hooks";

/** What a service carries on, for one incoming request, into the calls it makes to its peers. */
export interface RequestScope {
  requestId: string;
  /** The caller's W3C trace context, passed on so the peer's logs and spans join the same trace. */
  traceparent?: string;
  /**
   * When the caller stops waiting (epoch ms, from its `x-request-timeout-ms`): peer calls get only
   * what is left of it. Absent when the caller set none.
   */
  deadline?: number;
}

/**
 * Per-request, never shared between requests: each request runs in its own async scope, so a peer
 * call made anywhere while serving it (a repository, a client deep in a resolver) finds its ids
 * without threading them through every signature.
 */
export const requestScope = new AsyncLocalStorage<RequestScope>();
