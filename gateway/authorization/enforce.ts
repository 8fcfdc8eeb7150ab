import { createHash } from "node:crypto";
import type { ApolloServerPlugin } from "@apollo/server";
import type { GatewayExecutor, GatewayInterface } from "@apollo/server-gateway-interface";
import { type DocumentNode, type GraphQLSchema, getOperationAST, type OperationDefinitionNode } from "graphql";
import type { CallerIdentity } from "../context.ts";
import { gatewayError } from "../errors.ts";
import { filterDocument, findRemovals, type Removal } from "./filter.ts";
import {
  type AuthorizationPolicy,
  fieldCheck,
  isAuthenticated,
  isEmptyPolicy,
  type Requirement,
  satisfies,
} from "./policy.ts";
import { answerRemovals } from "./response.ts";

/** The operation a caller may run: the document without what it may not see, under its own query hash. */
export interface AuthorizedOperation {
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  /** Distinct per set of removed fields, so a query plan made for one caller never serves another. */
  readonly queryHash: string;
}

interface Decision extends AuthorizedOperation {
  readonly removals: readonly Removal[];
  readonly code: "UNAUTHENTICATED" | "FORBIDDEN";
}

export interface AuthorizationOptions {
  /** The policy of the supergraph being served (re-read on every reload). */
  policy: () => AuthorizationPolicy;
}

export interface Authorization {
  /** Decides before planning; answers the removed fields (null and an error each) in the response. */
  readonly plugin: ApolloServerPlugin<{ identity: CallerIdentity }>;
  /**
   * The gateway Apollo Server runs, with its executor running the authorized operation in place of
   * the one sent. Everything else is the wrapped gateway's.
   */
  gateway(inner: GatewayInterface): GatewayInterface;
  /**
   * The operation as it will run, for a request's context value, once the plugin has decided
   * (during `didResolveOperation`); undefined when nothing was removed.
   */
  operationOf(contextValue: object): AuthorizedOperation | undefined;
  /**
   * Whether an operation selects anything that needs authentication or a scope (in any branch, before
   * `@skip`/`@include`): what is open to everyone may be shared between callers, the rest never.
   */
  isOpen(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean;
}

/**
 * Enforces `@authenticated` and `@requiresScopes` before planning, as Apollo Router does: fields
 * the caller may not see are removed from the operation and come back null with an error naming
 * their path (UNAUTHENTICATED for anonymous callers, else FORBIDDEN); the rest runs. An operation
 * with nothing left is refused as a whole.
 *
 * Apollo's request context is never written to. The decision is kept per operation, keyed by its
 * context value: Apollo Server gives each operation (each one of a batch too) its own shallow
 * copy of the context value, and hands that same object to the gateway's executor as `context`.
 * The executor adapter then runs the real executor on a copy of its request context carrying the
 * authorized document, operation and query hash (@apollo/gateway keys its plan cache on the query
 * hash and operation name).
 */
export function createAuthorization(options: AuthorizationOptions): Authorization {
  const decisions = new WeakMap<object, Decision>();
  // What an operation asks of its caller depends only on the policy, the document and the operation:
  // worked out once (Apollo Server hands back the same parsed document for the same query), so a
  // caller who meets every requirement costs a few set lookups, not a walk of the document.
  const demands = new WeakMap<AuthorizationPolicy, WeakMap<OperationDefinitionNode, readonly Requirement[]>>();
  const demandsOf = (
    policy: AuthorizationPolicy,
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
  ): readonly Requirement[] => {
    let byOperation = demands.get(policy);
    if (!byOperation) {
      byOperation = new WeakMap();
      demands.set(policy, byOperation);
    }
    let found = byOperation.get(operation);
    if (!found) {
      const touched = new Set<Requirement>();
      // Every branch counts (no variables: a @skip/@include on a variable is taken as not skipping).
      findRemovals(schema, document, operation, {}, (coordinate, returnType) => {
        const onField = policy.fields.get(coordinate);
        const onType = policy.types.get(returnType);
        if (onField) touched.add(onField);
        if (onType) touched.add(onType);
        return true;
      });
      found = [...touched];
      byOperation.set(operation, found);
    }
    return found;
  };

  const plugin: ApolloServerPlugin<{ identity: CallerIdentity }> = {
    async requestDidStart() {
      return {
        // Synchronous up to its end: the guards' hook, which runs next, reads the decision.
        async didResolveOperation(context) {
          const policy = options.policy();
          if (isEmptyPolicy(policy) || !context.operation) return;
          const identity = context.contextValue.identity;
          const { schema, document } = context;
          if (demandsOf(policy, schema, document, context.operation).every((r) => satisfies(r, identity))) return;
          const isAllowed = fieldCheck(policy, identity);
          const removals = findRemovals(
            schema,
            document,
            context.operation,
            context.request.variables ?? {},
            isAllowed,
          );
          if (removals.length === 0) return;
          const code = isAuthenticated(identity) ? "FORBIDDEN" : "UNAUTHENTICATED";
          const filtered = filterDocument(document, schema, isAllowed);
          const operation = getOperationAST(filtered, context.operationName ?? undefined);
          if (!operation || operation.selectionSet.selections.length === 0) {
            const message =
              code === "UNAUTHENTICATED" ? "Authentication required" : "Not allowed to perform this operation";
            throw gatewayError(code, message, {
              ...(code === "UNAUTHENTICATED" && { headers: { "www-authenticate": 'Bearer realm="api"' } }),
            });
          }
          const removed = removals.map((r) => r.path.map((s) => s.key).join(".")).sort();
          const queryHash = createHash("sha256")
            .update(context.queryHash)
            .update(`\0${removed.join("\0")}`)
            .digest("hex");
          decisions.set(context.contextValue, { document: filtered, operation, queryHash, removals, code });
        },
        async willSendResponse(context) {
          const decision = decisions.get(context.contextValue);
          if (!decision || context.response.body.kind !== "single") return;
          answerRemovals(context.response.body.singleResult, decision.removals, decision.code);
        },
      };
    },
  };

  const authorizedExecutor =
    (execute: GatewayExecutor): GatewayExecutor =>
    (requestContext) => {
      const decision = decisions.get(requestContext.context);
      if (!decision) return execute(requestContext);
      const { document, operation, queryHash } = decision;
      return execute({ ...requestContext, document, operation, queryHash });
    };

  return {
    plugin,
    gateway: (inner) => ({
      onSchemaLoadOrUpdate: (callback) => inner.onSchemaLoadOrUpdate(callback),
      async load(loadOptions) {
        const loaded = await inner.load(loadOptions);
        return { ...loaded, executor: loaded.executor && authorizedExecutor(loaded.executor) };
      },
      stop: () => inner.stop(),
    }),
    operationOf: (contextValue) => decisions.get(contextValue),
    isOpen(schema, document, operation) {
      const policy = options.policy();
      return isEmptyPolicy(policy) || demandsOf(policy, schema, document, operation).length === 0;
    },
  };
}
