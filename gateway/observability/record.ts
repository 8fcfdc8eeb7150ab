import type { FastifyRequest } from "fastify";
import type { RequestRecord, SubgraphCall } from "../context.ts";

export type { Refusal, RequestRecord, SubgraphCall } from "../context.ts";

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
const REASON_SAFE =
  /^(UNAUTHENTICATED|FORBIDDEN|RATE_LIMITED|[A-Z_]+_LIMIT_EXCEEDED|SUBGRAPH_UNAVAILABLE|NOT_FOUND|OPERATION_NOT_TRUSTED)$/;

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
