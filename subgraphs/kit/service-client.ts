import { context, propagation } from "@opentelemetry/api";
import { GraphQLError } from "graphql";
import { Agent, request } from "undici";
import { REQUEST_TIMEOUT_HEADER } from "../../common/deadline.ts";
import { IDENTITY_HEADER, signIdentity } from "../../common/identity-token.ts";
import { REQUEST_ID_HEADER } from "../../common/request-id.ts";
import { domainError, ErrorCode } from "../shared/errors.ts";
import { requestScope } from "./request-scope.ts";

/** The serving request's id and trace context, so the peer logs the same request and joins its trace. */
function scopeHeaders(): Record<string, string> {
  const scope = requestScope.getStore();
  const headers: Record<string, string> = {};
  if (scope) headers[REQUEST_ID_HEADER] = scope.requestId;
  propagation.inject(context.active(), headers);
  if (!headers.traceparent && scope?.traceparent) headers.traceparent = scope.traceparent;
  return headers;
}

export interface ServiceClientOptions {
  /**
   * GraphQL endpoint of the peer subgraph; several instances separated by `|` take turns, and a
   * call none of them received (connection refused) goes to the next.
   */
  url: string;
  /** Name of the calling service; the peer sees it as `identity.service`. */
  service: string;
  internalSecret: string;
  /** @default 5000 */
  timeoutMs?: number;
}

export interface ServiceClient {
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/**
 * Calls a peer subgraph directly (service to service) with a signed service identity, over a
 * keep-alive connection pool. A GraphQL error from the peer is rethrown with its code intact.
 */
export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  const timeout = options.timeoutMs ?? 5000;
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 32 });
  const urls = options.url.split("|").map((url) => url.trim());
  let turn = 0;
  /** One call, on the instances in turn: another only when the last never received it (safe for mutations). */
  const send = async (init: Parameters<typeof request>[1]) => {
    const first = turn++ % urls.length;
    for (let n = 0; ; n++) {
      try {
        return await request(urls[(first + n) % urls.length]!, init);
      } catch (error) {
        if (n + 1 >= urls.length || !notSent(error)) throw error;
      }
    }
  };
  return {
    async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      // The serving request's deadline bounds the peer call too, and the peer is told what is left.
      const deadline = requestScope.getStore()?.deadline;
      const left = deadline === undefined ? timeout : Math.min(timeout, Math.floor(deadline - Date.now()));
      if (left <= 0) {
        throw domainError(
          ErrorCode.SUBGRAPH_UNAVAILABLE,
          "The request's deadline passed before a service it needs was asked",
          {
            service: new URL(urls[0]!).host,
          },
        );
      }
      const token = await signIdentity(
        { service: options.service, scopes: new Set(["internal"]) },
        options.internalSecret,
        options.service,
      );
      let body: GraphQLResponse<T>;
      try {
        const res = await send({
          method: "POST",
          dispatcher,
          headers: {
            "content-type": "application/json",
            [IDENTITY_HEADER]: token,
            ...(deadline !== undefined && { [REQUEST_TIMEOUT_HEADER]: String(left) }),
            ...scopeHeaders(),
          },
          body: JSON.stringify({ query, variables }),
          headersTimeout: left,
          bodyTimeout: left,
        });
        body = (await res.body.json()) as GraphQLResponse<T>;
      } catch {
        throw domainError(ErrorCode.SUBGRAPH_UNAVAILABLE, "A service this operation needs is unavailable", {
          service: new URL(urls[0]!).host,
        });
      }
      const first = body.errors?.[0];
      if (first) {
        // The peer's code and details travel on; its stack trace does not.
        const { stacktrace: _stacktrace, ...extensions } = first.extensions ?? {};
        throw new GraphQLError(first.message, { extensions });
      }
      if (body.data == null) throw new Error(`Empty response from ${options.url}`);
      return body.data;
    },
    close: () => dispatcher.close(),
  };
}

/** A connection that was never made: the peer cannot have received the call. */
function notSent(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "ECONNREFUSED" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "EHOSTUNREACH";
}
