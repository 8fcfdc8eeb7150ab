// The per-request context every gateway concern reads, and the caller identity in it; imports nothing from the gateway.
import type { Span } from "@opentelemetry/api";

/** The verified caller, as the gateway passes it on to subgraphs. */
export interface CallerIdentity {
  readonly userId: string | null;
  readonly scopes: ReadonlySet<string>;
  readonly clientId: string | null;
}

export const ANONYMOUS_CALLER: CallerIdentity = Object.freeze({
  userId: null,
  scopes: new Set<string>(),
  clientId: null,
});

/** What the gateway keeps per request for its subgraph calls. */
export interface SubgraphCallContext {
  identity: CallerIdentity;
  requestId: string;
  /**
   * When the gateway stops waiting for this request (epoch ms): every subgraph fetch and retry
   * gets what is left of it, and so do the subgraphs. @default none (each fetch its own timeout)
   */
  deadline?: number | undefined;
  /** What the request log and metrics learn about this request (each subgraph call is added). */
  observation?: RequestRecord | undefined;
}

/** Per-request context every gateway concern reads. */
export interface GatewayContext extends SubgraphCallContext {
  /** Client address (after trusted proxies). */
  ip: string;
}

/** One subgraph fetch made for a request. */
export interface SubgraphCall {
  subgraph: string;
  /** The instance actually called (the response URL when there was one). */
  url: string;
  durationMs: number;
  /** HTTP status; null when no response arrived (refused connection, timeout). */
  status: number | null;
  /** GraphQL errors in the subgraph's answer, or the one error the fetch failed with. */
  errors: number;
  /** Code of the failure, when the fetch failed (e.g. SUBGRAPH_UNAVAILABLE). */
  code?: string;
}

/** A refusal of the whole request, with its reason for the log. */
export interface Refusal {
  code: string;
  reason: string;
  /** The limited field, for RATE_LIMITED from a per-field rate limit. */
  field?: string;
}

/**
 * What the gateway learns about one request as it goes: filled by the Fastify hooks, the Apollo
 * plugin and the subgraph client, read once when the response has been sent. One per request,
 * held in a WeakMap keyed by the Fastify request, never in module state.
 */
export interface RequestRecord {
  readonly requestId: string;
  /** Trace id of the request's span when tracing, else of an incoming `traceparent`. */
  traceId: string | null;
  /**
   * The caller's valid `traceparent`, passed on unchanged to the subgraphs while the gateway does
   * not trace itself, so their logs still join the caller's trace.
   */
  traceparent: string | null;
  userId: string | null;
  clientId: string | null;
  /** True once the request reached the Apollo pipeline (/graphql or the REST shim). */
  graphql: boolean;
  /** The operation name the client asked for (raw, for the log only). */
  requestedOperation: string | null;
  /** Name and type of the operation, set once it resolved against the schema. */
  operationName: string | null;
  operationType: string | null;
  /** Distinct error codes in the response, in order of appearance. */
  errorCodes: string[];
  /** The first coded error, which becomes the refusal when the HTTP status refuses the request. */
  firstError: Refusal | null;
  /** Set by `settle` once the status is known. */
  refusal: Refusal | null;
  subgraphCalls: SubgraphCall[];
  /** Calls beyond the ones kept (a pathological plan must not grow one log line without end). */
  droppedCalls: number;
  /** Estimated cost (before execution) and actual cost (objects in the answer's data). */
  cost?: { estimated: number; actual: number | null; overLimit?: true };
  /** The request's server span, when tracing is on. */
  span: Span | null;
}
