import type { Span } from "@opentelemetry/api";
import type { FastifyRequest } from "fastify";

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

/** Subgraph calls kept per record; the rest are counted in `droppedCalls`. */
const MAX_CALLS = 64;
/** Error codes kept per record. */
const MAX_CODES = 16;
/** Longest refusal reason logged; server-written messages are short. */
const MAX_REASON = 200;

/**
 * Codes that refuse an operation for who is calling or what it asks for; their messages are the
 * gateway's own words, safe to log as the reason. Parse and validation messages are not logged:
 * they can quote the client's document (and what a client typed into it).
 */
const REASON_SAFE = /^(UNAUTHENTICATED|FORBIDDEN|RATE_LIMITED|[A-Z_]+_LIMIT_EXCEEDED|SUBGRAPH_UNAVAILABLE|NOT_FOUND)$/;

export function newRecord(requestId: string, traceId: string | null, traceparent: string | null): RequestRecord {
  return {
    requestId,
    traceId,
    traceparent,
    userId: null,
    clientId: null,
    graphql: false,
    requestedOperation: null,
    operationName: null,
    operationType: null,
    errorCodes: [],
    firstError: null,
    refusal: null,
    subgraphCalls: [],
    droppedCalls: 0,
    span: null,
  };
}

export function addSubgraphCall(record: RequestRecord, call: SubgraphCall): void {
  if (record.subgraphCalls.length < MAX_CALLS) record.subgraphCalls.push(call);
  else record.droppedCalls++;
}

interface ErrorLike {
  message?: unknown;
  extensions?: Record<string, unknown> | undefined;
  code?: unknown;
}

/** Takes the codes of a response's errors into the record, and its first coded error. */
export function noteErrors(record: RequestRecord, errors: readonly ErrorLike[]): void {
  for (const error of errors) {
    const code = typeof error.code === "string" ? error.code : error.extensions?.code;
    if (typeof code !== "string" || code.length > 64) continue;
    if (!record.errorCodes.includes(code) && record.errorCodes.length < MAX_CODES) record.errorCodes.push(code);
    if (record.firstError === null) {
      const field = error.extensions?.field ?? (error as Record<string, unknown>).field;
      record.firstError = {
        code,
        reason: REASON_SAFE.test(code) && typeof error.message === "string" ? error.message.slice(0, MAX_REASON) : code,
        ...(code === "RATE_LIMITED" && typeof field === "string" && { field: field.slice(0, 128) }),
      };
    }
  }
}

/** Once the status is known: a 4xx/5xx answer with a coded error was a refusal of the request. */
export function settle(record: RequestRecord, status: number): void {
  if (status >= 400 && record.firstError !== null) record.refusal = record.firstError;
}

/** Largest error body read back to find its codes; refusals are a few hundred bytes. */
const MAX_SNIFF_BYTES = 16 * 1024;

/**
 * Reads the error codes out of an error response nobody reported (refused before the Apollo
 * pipeline: authentication, throttling, blocks, malformed HTTP). Both the GraphQL shape
 * (`{ errors: [...] }`) and the REST shape (`{ error: { code } }`) are understood.
 */
export function sniffErrorBody(record: RequestRecord, payload: unknown): void {
  let text: string;
  if (typeof payload === "string") text = payload;
  else if (Buffer.isBuffer(payload)) text = payload.toString("utf8");
  else return;
  if (text.length > MAX_SNIFF_BYTES || text[0] !== "{") return;
  try {
    const body = JSON.parse(text) as { errors?: unknown; error?: unknown };
    if (Array.isArray(body.errors)) noteErrors(record, body.errors as ErrorLike[]);
    else if (body.error && typeof body.error === "object") noteErrors(record, [body.error as ErrorLike]);
  } catch {
    // not JSON after all: nothing to learn
  }
}

/** The records of the requests in flight, keyed by their Fastify request. */
export class RequestRecords {
  private readonly records = new WeakMap<FastifyRequest, RequestRecord>();

  set(request: FastifyRequest, record: RequestRecord): void {
    this.records.set(request, record);
  }

  get(request: FastifyRequest): RequestRecord | undefined {
    return this.records.get(request);
  }
}
