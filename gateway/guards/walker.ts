import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  getNamedType,
  isCompositeType,
  Kind,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  valueFromASTUntyped,
} from "graphql";
import type { CostPolicies } from "./cost.ts";
import type { RateLimitRule } from "./policy.ts";

export interface WalkPolicies extends CostPolicies {
  readonly rateLimits: ReadonlyMap<string, RateLimitRule>;
}

export interface LimitedCall {
  readonly rule: RateLimitRule;
  /** Times the field is called: one per occurrence (aliases included), or its list argument's length. */
  readonly count: number;
}

export interface OperationWalk {
  /** Rate-limited fields the operation calls, by coordinate. */
  readonly calls: ReadonlyMap<string, LimitedCall>;
}

/**
 * Walks an operation as it will execute to find the rate-limited fields it calls: with its
 * variables, through fragments and inline fragments, dropping what `@skip`/`@include` drop,
 * counting every alias of a limited field as a call. Fragments are walked once and reused, so
 * nesting spreads cannot make the walk itself expensive. (The cost estimate is `cost.ts`.)
 */
export function walkOperation(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  policies: Pick<WalkPolicies, "rateLimits">,
): OperationWalk {
  const calls = new Map<string, LimitedCall>();
  const memo = new Map<string, Map<string, number>>();
  const visiting = new Set<string>();

  const included = (node: SelectionNode): boolean => {
    for (const directive of node.directives ?? []) {
      const name = directive.name.value;
      if (name !== "skip" && name !== "include") continue;
      const arg = directive.arguments?.find((a) => a.name.value === "if");
      const value = arg ? valueFromASTUntyped(arg.value, variables) : undefined;
      if (name === "skip" && value === true) return false;
      if (name === "include" && value !== true) return false;
    }
    return true;
  };

  const argumentValues = (node: FieldNode): Record<string, unknown> => {
    const values: Record<string, unknown> = {};
    for (const arg of node.arguments ?? []) values[arg.name.value] = valueFromASTUntyped(arg.value, variables);
    return values;
  };

  const add = (into: Map<string, number>, coordinate: string, count: number) =>
    into.set(coordinate, (into.get(coordinate) ?? 0) + count);

  /** Adds the limited calls of a selection set on `type` into `into`. */
  const selectionSet = (set: SelectionSetNode, type: GraphQLCompositeType, into: Map<string, number>): void => {
    for (const selection of set.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        field(selection, type, into);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        if (on && isCompositeType(on)) selectionSet(selection.selectionSet, on, into);
      } else {
        const own = fragment(selection.name.value);
        if (own) for (const [coordinate, count] of own) add(into, coordinate, count);
      }
    }
  };

  const fragment = (name: string) => {
    const cached = memo.get(name);
    if (cached) return cached;
    const definition = fragments.get(name);
    if (!definition || visiting.has(name)) return null;
    const on = schema.getType(definition.typeCondition.name.value);
    if (!on || !isCompositeType(on)) return null;
    visiting.add(name);
    const own = new Map<string, number>();
    selectionSet(definition.selectionSet, on, own);
    visiting.delete(name);
    memo.set(name, own);
    return own;
  };

  const field = (node: FieldNode, parent: GraphQLCompositeType, into: Map<string, number>): void => {
    const name = node.name.value;
    if (name.startsWith("__")) return;
    const definition = "getFields" in parent ? parent.getFields()[name] : undefined;
    if (!definition) return;
    const coordinate = `${parent.name}.${name}`;
    const rule = policies.rateLimits.get(coordinate);
    if (rule)
      add(into, coordinate, rule.arrayLengthField ? arrayLength(argumentValues(node), rule.arrayLengthField) : 1);
    const named = getNamedType(definition.type);
    if (node.selectionSet && isCompositeType(named)) selectionSet(node.selectionSet, named, into);
  };

  const root = operationRoot(schema, operation);
  const totals = new Map<string, number>();
  if (root) selectionSet(operation.selectionSet, root, totals);
  for (const [coordinate, count] of totals) {
    const rule = policies.rateLimits.get(coordinate);
    if (rule && count > 0) calls.set(coordinate, { rule, count });
  }
  return { calls };
}

function operationRoot(schema: GraphQLSchema, operation: OperationDefinitionNode) {
  if (operation.operation === "query") return schema.getQueryType() ?? null;
  if (operation.operation === "mutation") return schema.getMutationType() ?? null;
  return schema.getSubscriptionType() ?? null;
}

/** Length of a (possibly dotted) list argument; every call counts at least once, as in graphql-rate-limit. */
function arrayLength(args: Record<string, unknown>, path: string): number {
  let value: unknown = args;
  for (const part of path.split(".")) {
    value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
  }
  return Array.isArray(value) ? Math.max(1, value.length) : 1;
}
