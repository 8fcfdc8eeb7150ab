import { createHash } from "node:crypto";
import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from "@apollo/server";
import {
  type ConstDirectiveNode,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLOutputType,
  getNamedType,
  getNullableType,
  getOperationAST,
  isListType,
  isNonNullType,
  Kind,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  TypeInfo,
  type ValueNode,
  visit,
  visitWithTypeInfo,
} from "graphql";
import type { CallerIdentity } from "../context.ts";
import { gatewayError } from "../errors.ts";

/**
 * What a field or type demands of the caller: `@authenticated`, and `@requiresScopes` as a list of
 * alternatives, each a set of scopes that must all be held (OR of ANDs, as in the Federation spec).
 */
export interface Requirement {
  authenticated: boolean;
  scopes: string[][] | null;
}

export interface AuthorizationPolicy {
  /** By coordinate, e.g. `Mutation.placeOrder`. */
  fields: ReadonlyMap<string, Requirement>;
  /** By type name; applies to every field that returns the type. */
  types: ReadonlyMap<string, Requirement>;
}

const SPECS = {
  authenticated: "https://specs.apollo.dev/authenticated/",
  requiresScopes: "https://specs.apollo.dev/requiresScopes/",
} as const;

function stringArg(directive: ConstDirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : undefined;
}

/** The names the supergraph gives the two directives (a `@link` may rename them with `as:`). */
function directiveNames(document: DocumentNode): { authenticated: string; requiresScopes: string } | null {
  const names: { authenticated?: string; requiresScopes?: string } = {};
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const link of definition.directives ?? []) {
      if (link.name.value !== "link") continue;
      const url = stringArg(link, "url") ?? "";
      for (const key of ["authenticated", "requiresScopes"] as const) {
        if (url.startsWith(SPECS[key])) names[key] = stringArg(link, "as") ?? key;
      }
    }
  }
  if (!names.authenticated && !names.requiresScopes) return null;
  return {
    authenticated: names.authenticated ?? "authenticated",
    requiresScopes: names.requiresScopes ?? "requiresScopes",
  };
}

function scopesOf(value: ValueNode | undefined): string[][] {
  if (value?.kind !== Kind.LIST) return [];
  return value.values.map((inner) =>
    inner.kind === Kind.LIST ? inner.values.flatMap((s) => (s.kind === Kind.STRING ? [s.value] : [])) : [],
  );
}

function requirementOf(
  directives: readonly ConstDirectiveNode[] | undefined,
  names: { authenticated: string; requiresScopes: string },
): Requirement | null {
  let requirement = null as Requirement | null;
  for (const directive of directives ?? []) {
    if (directive.name.value === names.authenticated) {
      requirement = { authenticated: true, scopes: requirement?.scopes ?? null };
    } else if (directive.name.value === names.requiresScopes) {
      const scopes = scopesOf(directive.arguments?.find((a) => a.name.value === "scopes")?.value);
      // Several applications (one per subgraph) must all hold: combine them as a product.
      const combined: string[][] = requirement?.scopes
        ? requirement.scopes.flatMap((a) => scopes.map((b) => [...new Set([...a, ...b])]))
        : scopes;
      requirement = { authenticated: true, scopes: combined };
    }
  }
  return requirement;
}

/** Reads `@authenticated` and `@requiresScopes` from a supergraph SDL. */
export function readAuthorizationPolicy(supergraphSdl: string): AuthorizationPolicy {
  const document = parse(supergraphSdl);
  const fields = new Map<string, Requirement>();
  const types = new Map<string, Requirement>();
  const names = directiveNames(document);
  if (!names) return { fields, types };
  for (const definition of document.definitions) {
    if (!("name" in definition) || !definition.name || !("directives" in definition)) continue;
    const typeName = definition.name.value;
    const onType = requirementOf(definition.directives as readonly ConstDirectiveNode[], names);
    if (onType) types.set(typeName, onType);
    if ("fields" in definition && definition.fields && definition.kind !== Kind.INPUT_OBJECT_TYPE_DEFINITION) {
      for (const field of definition.fields) {
        const onField = requirementOf(field.directives, names);
        if (onField) fields.set(`${typeName}.${field.name.value}`, onField);
      }
    }
  }
  return { fields, types };
}

/**
 * `@apollo/gateway` refuses a supergraph whose `@authenticated`/`@requiresScopes` links are marked
 * `for: SECURITY`. This gateway enforces them itself (below), so it hands the gateway a copy
 * without those marks; every other link, `@inaccessible`'s included, is left alone.
 */
export function withoutSecurityMarks(supergraphSdl: string): string {
  return supergraphSdl.replace(
    /(@link\(\s*url:\s*"https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes)\/[^"]*"[^)]*?),\s*for:\s*SECURITY/g,
    "$1",
  );
}

function isAuthenticated(identity: CallerIdentity): boolean {
  return identity.userId !== null || identity.clientId !== null;
}

function satisfies(requirement: Requirement, identity: CallerIdentity): boolean {
  if (requirement.authenticated && !isAuthenticated(identity)) return false;
  if (!requirement.scopes) return true;
  return requirement.scopes.some((all) => all.every((scope) => identity.scopes.has(scope)));
}

/** One step of a response path, with what GraphQL null propagation needs to know about it. */
interface PathStep {
  key: string;
  nonNull: boolean;
  list: boolean;
  itemNonNull: boolean;
}

function stepOf(node: FieldNode, type: GraphQLOutputType): PathStep {
  const nullable = getNullableType(type);
  return {
    key: node.alias?.value ?? node.name.value,
    nonNull: isNonNullType(type),
    list: isListType(nullable),
    itemNonNull: isListType(nullable) && isNonNullType(nullable.ofType),
  };
}

interface Removal {
  /** Response path from the root, lists flattened (one step per field). */
  path: PathStep[];
}

function skipped(directives: readonly DirectiveNode[] | undefined, variables: Record<string, unknown>): boolean {
  for (const directive of directives ?? []) {
    const name = directive.name.value;
    if (name !== "skip" && name !== "include") continue;
    const arg = directive.arguments?.find((a) => a.name.value === "if")?.value;
    const value =
      arg?.kind === Kind.BOOLEAN ? arg.value : arg?.kind === Kind.VARIABLE ? variables[arg.name.value] : undefined;
    if (name === "skip" && value === true) return true;
    if (name === "include" && value === false) return true;
  }
  return false;
}

/**
 * Finds the fields the caller may not see, as response paths (fragments expanded, aliases kept,
 * fields skipped by `@skip`/`@include` ignored).
 */
function findRemovals(
  context: GraphQLRequestContextDidResolveOperation<{ identity: CallerIdentity }>,
  policy: AuthorizationPolicy,
  isAllowed: (coordinate: string, returnType: string) => boolean,
): Removal[] {
  const { schema, document, operation } = context;
  const variables = context.request.variables ?? {};
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  );
  const removals: Removal[] = [];
  if (!operation) return removals;
  const root = schema.getRootType(operation.operation);
  if (!root || policy.fields.size + policy.types.size === 0) return removals;

  const walk = (selectionSet: SelectionSetNode, parentName: string, path: PathStep[], seen: Set<string>) => {
    for (const selection of selectionSet.selections) {
      if (skipped(selection.directives, variables)) continue;
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith("__")) continue;
        const parent = schema.getType(parentName);
        if (!parent || !("getFields" in parent)) continue;
        const field = (parent.getFields() as Record<string, GraphQLField<unknown, unknown>>)[selection.name.value];
        if (!field) continue;
        const step = [...path, stepOf(selection, field.type)];
        const returnType = getNamedType(field.type).name;
        if (!isAllowed(`${parentName}.${field.name}`, returnType)) {
          removals.push({ path: step });
        } else if (selection.selectionSet) {
          walk(selection.selectionSet, returnType, step, seen);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, selection.typeCondition?.name.value ?? parentName, path, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue;
        walk(fragment.selectionSet, fragment.typeCondition.name.value, path, new Set([...seen, fragment.name.value]));
      }
    }
  };
  walk(operation.selectionSet, root.name, [], new Set());
  return removals;
}

/** The document without the fields the caller may not see, nor selections left empty by that. */
function filterDocument(
  document: DocumentNode,
  schema: GraphQLRequestContextDidResolveOperation<object>["schema"],
  isAllowed: (coordinate: string, returnType: string) => boolean,
): DocumentNode {
  const typeInfo = new TypeInfo(schema);
  let filtered = visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        if (!parent || !field || node.name.value.startsWith("__")) return undefined;
        return isAllowed(`${parent.name}.${field.name}`, getNamedType(field.type).name) ? undefined : null;
      },
    }),
  );
  // Removing fields can empty selection sets; remove what became empty, bottom up, until stable.
  for (;;) {
    const emptied = new Set<string>();
    filtered = visit(filtered, {
      SelectionSet: {
        leave(node) {
          const selections = node.selections.filter(
            (s) =>
              !(
                (s.kind === Kind.FIELD && s.selectionSet && s.selectionSet.selections.length === 0) ||
                (s.kind === Kind.INLINE_FRAGMENT && s.selectionSet.selections.length === 0)
              ),
          );
          return selections.length === node.selections.length ? undefined : { ...node, selections };
        },
      },
      FragmentDefinition: {
        leave(node) {
          if (node.selectionSet.selections.length === 0) emptied.add(node.name.value);
        },
      },
    });
    if (emptied.size === 0) break;
    filtered = visit(filtered, {
      FragmentSpread: (node) => (emptied.has(node.name.value) ? null : undefined),
      FragmentDefinition: (node) => (emptied.has(node.name.value) ? null : undefined),
    });
  }
  return filtered;
}

/** Writes null at a removed field's path, propagating to the nearest nullable parent as GraphQL does. */
function nullAt(target: Record<string, unknown>, path: PathStep[], index: number): boolean {
  const step = path[index]!;
  if (index === path.length - 1) {
    if (step.nonNull) return true;
    target[step.key] = null;
    return false;
  }
  const value = target[step.key];
  if (value === null || value === undefined || typeof value !== "object") return false;
  let nullField = false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item && typeof item === "object" && nullAt(item as Record<string, unknown>, path, index + 1)) {
        if (step.itemNonNull) nullField = true;
        else value[i] = null;
      }
    }
  } else {
    nullField = nullAt(value as Record<string, unknown>, path, index + 1);
  }
  if (!nullField) return false;
  if (step.nonNull) return true;
  target[step.key] = null;
  return false;
}

export interface AuthorizationOptions {
  /** The policy of the supergraph being served (re-read on every reload). */
  policy: () => AuthorizationPolicy;
}

/**
 * Enforces `@authenticated` and `@requiresScopes` before planning, as Apollo Router does: fields
 * the caller may not see are removed from the operation and come back null with an error naming
 * their path (UNAUTHENTICATED for anonymous callers, else FORBIDDEN); the rest runs. An operation
 * with nothing left is refused as a whole. The rewritten document gets its own query hash, so a
 * query plan made for one caller never serves another.
 */
export function authorizationPlugin(options: AuthorizationOptions): ApolloServerPlugin<{ identity: CallerIdentity }> {
  const removedByRequest = new WeakMap<object, { removals: Removal[]; code: "UNAUTHENTICATED" | "FORBIDDEN" }>();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(context) {
          const policy = options.policy();
          if (policy.fields.size === 0 && policy.types.size === 0) return;
          const identity = context.contextValue.identity;
          const isAllowed = (coordinate: string, returnType: string) => {
            const onField = policy.fields.get(coordinate);
            const onType = policy.types.get(returnType);
            return (!onField || satisfies(onField, identity)) && (!onType || satisfies(onType, identity));
          };
          const removals = findRemovals(context, policy, isAllowed);
          if (removals.length === 0) return;
          const code = isAuthenticated(identity) ? "FORBIDDEN" : "UNAUTHENTICATED";
          const document = filterDocument(context.document, context.schema, isAllowed);
          const operation = getOperationAST(document, context.operationName ?? undefined) as
            | OperationDefinitionNode
            | null
            | undefined;
          if (!operation || operation.selectionSet.selections.length === 0) {
            const message =
              code === "UNAUTHENTICATED" ? "Authentication required" : "Not allowed to perform this operation";
            throw gatewayError(code, message, {
              ...(code === "UNAUTHENTICATED" && { headers: { "www-authenticate": 'Bearer realm="api"' } }),
            });
          }
          const removed = removals.map((r) => r.path.map((s) => s.key).join(".")).sort();
          const writable = context as unknown as {
            document: DocumentNode;
            operation: OperationDefinitionNode;
            queryHash: string;
          };
          writable.document = document;
          writable.operation = operation;
          writable.queryHash = createHash("sha256")
            .update(context.queryHash)
            .update(`\0${removed.join("\0")}`)
            .digest("hex");
          removedByRequest.set(context.request, { removals, code });
        },
        async willSendResponse(context) {
          const removed = removedByRequest.get(context.request);
          if (!removed || context.response.body.kind !== "single") return;
          const result = context.response.body.singleResult;
          if (result.data && typeof result.data === "object") {
            for (const { path } of removed.removals) {
              if (nullAt(result.data as Record<string, unknown>, path, 0)) {
                result.data = null;
                break;
              }
            }
          }
          const message =
            removed.code === "UNAUTHENTICATED"
              ? "Authentication required for this field"
              : "Not allowed to see this field";
          const errors = removed.removals.map(({ path }) => ({
            message,
            path: path.map((s) => s.key),
            extensions: { code: removed.code },
          }));
          result.errors = [...(result.errors ?? []), ...errors];
        },
      };
    },
  };
}
