import { HeaderMap } from "@apollo/server";
import type { GraphQLFormattedError } from "graphql";
import { GraphQLError } from "graphql";

/*
 * The gateway's one error registry: every code a client can see, its HTTP status, and the two
 * shapes a refusal takes on the wire:
 * - GraphQL (/graphql): `{ "errors": [{ "message", "extensions": { "code", ... } }] }`;
 * - REST (/api/* and every other route): `{ "error": { "code", "message", ... } }`.
 */

/**
 * Every error code a client can see, with the HTTP status it carries when it refuses a whole
 * operation (and in the REST shim). Anything else is masked as INTERNAL_SERVER_ERROR.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: { status: 401 },
  FORBIDDEN: { status: 403 },
  RATE_LIMITED: { status: 429 },
  DEPTH_LIMIT_EXCEEDED: { status: 400 },
  ALIAS_LIMIT_EXCEEDED: { status: 400 },
  COST_LIMIT_EXCEEDED: { status: 400 },
  TOKEN_LIMIT_EXCEEDED: { status: 400 },
  ROOT_FIELD_LIMIT_EXCEEDED: { status: 400 },
  DIRECTIVE_LIMIT_EXCEEDED: { status: 400 },
  REPEATED_FIELD_LIMIT_EXCEEDED: { status: 400 },
  BATCH_LIMIT_EXCEEDED: { status: 400 },
  GRAPHQL_PARSE_FAILED: { status: 400 },
  GRAPHQL_VALIDATION_FAILED: { status: 400 },
  BAD_USER_INPUT: { status: 400 },
  BAD_REQUEST: { status: 400 },
  OPERATION_RESOLUTION_FAILURE: { status: 400 },
  PERSISTED_QUERY_NOT_FOUND: { status: 200 },
  PERSISTED_QUERY_NOT_SUPPORTED: { status: 200 },
  /** Trusted-only mode: an id, text or APQ registration that is not a trusted document. */
  OPERATION_NOT_TRUSTED: { status: 400 },
  NOT_FOUND: { status: 404 },
  /** A known path with another method (with `Allow`): the REST shim and `/graphql`. */
  METHOD_NOT_ALLOWED: { status: 405 },
  /** A body over the size limit (REST shim and `/graphql`). */
  PAYLOAD_TOO_LARGE: { status: 413 },
  /** A body that is not `application/json` (REST shim and `/graphql`). */
  UNSUPPORTED_MEDIA_TYPE: { status: 415 },
  /** Request headers over Node's limit (16 KiB by default). */
  HEADERS_TOO_LARGE: { status: 431 },
  INSUFFICIENT_STOCK: { status: 409 },
  PAYMENT_DECLINED: { status: 402 },
  SUBGRAPH_UNAVAILABLE: { status: 503 },
  INTERNAL_SERVER_ERROR: { status: 500 },
} as const satisfies Record<string, { status: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isPublicCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

export function statusFor(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** HTTP status for any code; anything not in the registry is an internal error. */
export function statusOf(code: unknown): number {
  return isPublicCode(code) ? statusFor(code) : 500;
}

/** The endpoint whose refusals take the GraphQL shape. */
export const GRAPHQL_PATH = "/graphql";

export type ErrorShape = "graphql" | "rest";

/** The shape a refusal takes on a path (without its query string). */
export function errorShapeOf(path: string): ErrorShape {
  return path === GRAPHQL_PATH ? "graphql" : "rest";
}

export interface GraphQLErrorBody {
  errors: [{ message: string; extensions: { code: string } & Record<string, unknown> }];
}

export interface RestErrorBody {
  error: { code: string; message: string } & Record<string, unknown>;
}

/** A refusal in the GraphQL shape; `details` go into `extensions` after the code. */
export function graphqlErrorBody(
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): GraphQLErrorBody {
  return { errors: [{ message, extensions: { code, ...details } }] };
}

/** A refusal in the REST shape; `details` become members next to code and message. */
export function restErrorBody(code: string, message: string, details: Record<string, unknown> = {}): RestErrorBody {
  return { error: { code, message, ...details } };
}

/** A refusal in the shape of the route it answers. */
export function errorBody(
  shape: ErrorShape,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): GraphQLErrorBody | RestErrorBody {
  return shape === "graphql" ? graphqlErrorBody(code, message, details) : restErrorBody(code, message, details);
}

/** A whole-operation refusal thrown as a GraphQLError (see gatewayError), read back. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  status: number;
  headers: Record<string, string>;
  /** Extensions besides code and http. */
  details: Record<string, unknown>;
}

/** The refusal an error carries when it is a contract error made by gatewayError; null otherwise. */
export function refusalOf(error: unknown): Refusal | null {
  if (!(error instanceof GraphQLError)) return null;
  const { code, http, ...details } = error.extensions;
  if (!isPublicCode(code)) return null;
  const head = http as { status?: number; headers?: HeaderMap } | undefined;
  return {
    code,
    message: error.message,
    status: head?.status ?? statusFor(code),
    headers: Object.fromEntries(head?.headers ?? []),
    details,
  };
}

/**
 * An error that refuses the whole operation: it carries its contract code, and the HTTP status
 * (and headers) Apollo Server should answer with.
 */
export function gatewayError(
  code: ErrorCode,
  message: string,
  options: { headers?: Record<string, string>; extensions?: Record<string, unknown> } = {},
): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      ...options.extensions,
      code,
      http: { status: statusFor(code), headers: new HeaderMap(Object.entries(options.headers ?? {})) },
    },
  });
}

function httpStatusOf(error: unknown): number | undefined {
  const http = error instanceof GraphQLError ? (error.extensions.http as { status?: number } | undefined) : undefined;
  return http?.status;
}

/** Extensions that may reach clients; subgraph internals (response bodies, service URLs) do not. */
const PUBLIC_EXTENSIONS = new Set([
  "code",
  "field",
  "path",
  "retryAfter",
  "productId",
  "requested",
  "available",
  "declineCode",
  "limit",
  "actual",
  "serviceName",
]);

/**
 * Apollo Server `formatError`: keeps contract codes, masks everything else as
 * INTERNAL_SERVER_ERROR. In development the original message and details stay visible.
 */
export function createErrorFormatter(production: boolean) {
  return (formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError => {
    let code = formatted.extensions?.code;
    // Apollo refuses a mutation over GET with 405 and `Allow: POST` but calls it BAD_REQUEST.
    if (code === "BAD_REQUEST" && httpStatusOf(error) === 405) {
      code = "METHOD_NOT_ALLOWED";
      formatted = { ...formatted, extensions: { ...formatted.extensions, code } };
    }
    if (!isPublicCode(code) || code === "INTERNAL_SERVER_ERROR") {
      if (!production) {
        return {
          ...formatted,
          extensions: { ...formatted.extensions, code: "INTERNAL_SERVER_ERROR", originalCode: code },
        };
      }
      return { message: "Internal server error", path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
    }
    if (!production) return formatted;
    const extensions: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(formatted.extensions ?? {})) {
      if (PUBLIC_EXTENSIONS.has(key) && key !== "serviceName") extensions[key] = value;
    }
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions };
  };
}
