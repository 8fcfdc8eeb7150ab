import { type ApolloServer, HeaderMap, type HTTPGraphQLResponse } from "@apollo/server";
import type { FastifyRequest } from "fastify";
import type { GatewayContext } from "../context.ts";
import { refusalOf, statusOf } from "../errors.ts";
import type { CompiledRoute } from "./compile.ts";
import { type ErrorBody, errorBody } from "./http.ts";

/** The gateway pipeline a route runs through: the Apollo Server behind `/graphql` and its context. */
export interface Pipeline {
  readonly apollo: ApolloServer<GatewayContext>;
  /** The one place a request becomes a GatewayContext (authentication included). */
  readonly buildContext: (request: FastifyRequest) => Promise<GatewayContext>;
}

/** Caller headers the pipeline sees on the synthetic GraphQL request, as on `/graphql`. */
const FORWARDED_REQUEST_HEADERS = [
  "authorization",
  "x-request-id",
  "x-forwarded-for",
  "user-agent",
  "traceparent",
  "tracestate",
] as const;

/** Response headers the shim owns; every other header the pipeline set reaches the client. */
const OWN_RESPONSE_HEADERS = new Set([
  "content-type",
  "content-length",
  "cache-control",
  "vary",
  "etag",
  "transfer-encoding",
  "connection",
  "keep-alive",
]);

interface FormattedError {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown>;
}

export interface GraphQLOutcome {
  status: number;
  headers: Record<string, string>;
  data: Record<string, unknown> | null | undefined;
  errors: FormattedError[];
}

/**
 * Runs a route's operation in-process through the same Apollo Server as `/graphql`: a POST with
 * a JSON body (which also satisfies its CSRF prevention), the caller's headers, and the gateway
 * context built from the real request. Plugins (limits, logging, metrics) see it like any other.
 *
 * The context is built first, here: a caller refused while it is built (authentication) is
 * answered from the refusal itself, its code and message as thrown, not from the text Apollo
 * Server would wrap it in.
 */
export async function runOperation(
  pipeline: Pipeline,
  compiled: CompiledRoute,
  variables: Record<string, unknown>,
  request: FastifyRequest,
): Promise<GraphQLOutcome> {
  let context: GatewayContext;
  try {
    context = await pipeline.buildContext(request);
  } catch (error) {
    const refusal = refusalOf(error);
    if (!refusal) throw error;
    const { code, message, status, headers, details } = refusal;
    return { status, headers, data: undefined, errors: [{ message, extensions: { ...details, code } }] };
  }
  const headers = new HeaderMap([["content-type", "application/json"]]);
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers[name];
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const response = await pipeline.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: {
      method: "POST",
      headers,
      search: "",
      body: { query: compiled.route.operation, variables, operationName: compiled.operationName },
    },
    context: async () => context,
  });
  return readResponse(response);
}

export async function readResponse(response: HTTPGraphQLResponse): Promise<GraphQLOutcome> {
  let text = "";
  if (response.body.kind === "complete") text = response.body.string;
  else for await (const chunk of response.body.asyncIterator) text += chunk;
  const headers: Record<string, string> = {};
  for (const [name, value] of response.headers) if (!OWN_RESPONSE_HEADERS.has(name)) headers[name] = value;
  let parsed: { data?: Record<string, unknown> | null; errors?: FormattedError[] };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = { errors: [{ message: "The gateway answered with something other than JSON" }] };
  }
  return { status: response.status ?? 200, headers, data: parsed.data, errors: parsed.errors ?? [] };
}

export function valueAt(data: unknown, path: string): unknown {
  let node = data;
  for (const key of path.split(".")) {
    if (node === null || node === undefined || typeof node !== "object") return node === null ? null : undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export type RouteResult =
  | { kind: "success"; status: number; headers: Record<string, string>; resource: unknown }
  | { kind: "error"; status: number; headers: Record<string, string>; body: ErrorBody };

/** The error a REST client sees for a GraphQL error. */
function restError(error: FormattedError, pipelineStatus: number) {
  const code = error.extensions?.code;
  if (code === "GRAPHQL_VALIDATION_FAILED" || code === "GRAPHQL_PARSE_FAILED") {
    // The shim wrote this operation, not the client: the served schema and the route table disagree.
    return { status: 500, code: "INTERNAL_SERVER_ERROR", message: "This route does not fit the served schema" };
  }
  if (typeof code !== "string") {
    return {
      status: pipelineStatus >= 400 ? pipelineStatus : 500,
      code: "INTERNAL_SERVER_ERROR",
      message: error.message,
    };
  }
  let status = statusOf(code);
  // The pipeline may have been more specific (502 or 503 for an unreachable subgraph).
  if (code === "SUBGRAPH_UNAVAILABLE" && (pipelineStatus === 502 || pipelineStatus === 503)) status = pipelineStatus;
  return { status, code, message: error.message };
}

/**
 * Turns a GraphQL response into a REST answer. The rule for errors:
 * - no resource (null root, or errors on a GET) → the first error, with its contract status;
 *   a GET never serves partial data as if it were whole, and is safe to retry;
 * - errors next to a resource on a POST → the side effect happened, so the success status (and
 *   Location) stands and the errors travel in the body's `errors` member rather than vanish;
 * - no errors and a null resource → 404 NOT_FOUND.
 */
export function interpret(compiled: CompiledRoute, outcome: GraphQLOutcome): RouteResult {
  const { route } = compiled;
  const resource = outcome.data ? valueAt(outcome.data, route.result) : null;
  const headers = { ...outcome.headers };
  const first = outcome.errors[0];
  if (first && (resource === null || resource === undefined || route.method === "GET")) {
    const { status, code, message } = restError(first, outcome.status);
    const retryAfter = first.extensions?.retryAfter;
    if (code === "RATE_LIMITED" && headers["retry-after"] === undefined && typeof retryAfter === "number") {
      headers["retry-after"] = String(Math.max(0, Math.ceil(retryAfter)));
    }
    // Every 401 carries a challenge (RFC 9110 §15.5.2), also when a service refused an anonymous call.
    if (status === 401 && headers["www-authenticate"] === undefined) headers["www-authenticate"] = 'Bearer realm="api"';
    // `field` means a parameter or body field to a REST client; other codes use it for schema coordinates.
    const { field, ...details } = first.extensions ?? {};
    return {
      kind: "error",
      status,
      headers,
      body: errorBody(code, message, code === "BAD_USER_INPUT" ? { ...details, field } : details),
    };
  }
  if (resource === null || resource === undefined) {
    return { kind: "error", status: 404, headers, body: errorBody("NOT_FOUND", "No such resource") };
  }
  const status = route.status ?? 200;
  if (outcome.errors.length === 0) return { kind: "success", status, headers, resource };
  const errors = outcome.errors.map((e) => ({
    code: typeof e.extensions?.code === "string" ? e.extensions.code : "INTERNAL_SERVER_ERROR",
    message: e.message,
    ...(e.path && { path: e.path }),
  }));
  return { kind: "success", status, headers, resource: { ...(resource as object), errors } };
}

/** `{a.b}` placeholders filled from the resource, each segment URL-encoded. */
export function expandTemplate(template: string, resource: unknown): string | null {
  let complete = true;
  const out = template.replace(/\{([\w.]+)\}/g, (_, path: string) => {
    const value = valueAt(resource, path);
    if (typeof value !== "string" && typeof value !== "number") complete = false;
    return encodeURIComponent(String(value));
  });
  return complete ? out : null;
}
