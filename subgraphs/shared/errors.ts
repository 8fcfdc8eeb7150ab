import { GraphQLError } from "graphql";

/** Error codes a subgraph may raise; the gateway passes them on to clients unchanged. */
export const ErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  BAD_USER_INPUT: "BAD_USER_INPUT",
  NOT_FOUND: "NOT_FOUND",
  INSUFFICIENT_STOCK: "INSUFFICIENT_STOCK",
  PAYMENT_DECLINED: "PAYMENT_DECLINED",
  SUBGRAPH_UNAVAILABLE: "SUBGRAPH_UNAVAILABLE",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A refusal the client can act on: a contract code, a message, and optional details. */
export function domainError(code: ErrorCode, message: string, details: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...details, code } });
}

export const badInput = (message: string, field?: string): GraphQLError =>
  domainError(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {});
export const notFound = (message: string): GraphQLError => domainError(ErrorCode.NOT_FOUND, message);
export const forbidden = (message = "Not allowed"): GraphQLError => domainError(ErrorCode.FORBIDDEN, message);
export const unauthenticated = (message = "Authentication required"): GraphQLError =>
  domainError(ErrorCode.UNAUTHENTICATED, message);
