import { context, propagation } from "@opentelemetry/api";
import { GraphQLError } from "graphql";
import { Agent, request } from "undici";
import { REQUEST_TIMEOUT_HEADER } from "../../common/deadline.ts";
import type { IdentityKeys, IdentitySigningKey } from "../../common/identity-keys.ts";
import { IDENTITY_HEADER, IDENTITY_TTL_SECONDS, signIdentity } from "../../common/identity-token.ts";
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
  /** The peer subgraph's name: the audience (`subgraph:<peer>`) of the identity sent to it. */
  peer: string;
  /**
   * The calling service's own private key; the peer sees its issuer as `identity.service`, with
   * the `internal` scope only.
   */
  signer: IdentitySigningKey;
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
  // The service's identity never changes: one token, renewed shortly before it expires.
  let cached: { token: Promise<string>; renewAt: number } | null = null;
  const tokenOf = (): Promise<string> => {
    const now = Date.now();
    if (cached && cached.renewAt > now) return cached.token;
    const token = signIdentity({}, options.signer, options.peer);
    const entry = { token, renewAt: now + (IDENTITY_TTL_SECONDS - 15) * 1000 };
    cached = entry;
    token.catch(() => {
      if (cached === entry) cached = null;
    });
    return token;
  };
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
      const token = await tokenOf();
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

/** The service's own signing key, or an error saying it was built without one. */
export function signerOf(keys: IdentityKeys, service: string): IdentitySigningKey {
  if (keys.signing?.issuer !== service) {
    throw new TypeError(`identityKeys.signing must be the ${service} service's own key (issuer "${service}")`);
  }
  return keys.signing;
}

/** A connection that was never made: the peer cannot have received the call. */
function notSent(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "ECONNREFUSED" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "EHOSTUNREACH";
}
