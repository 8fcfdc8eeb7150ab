import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  valueFromASTUntyped,
} from "graphql";
import type { ListSizeHint } from "./directives.ts";
import type { RateLimitRule } from "./policy.ts";

export interface WalkPolicies {
  readonly rateLimits: ReadonlyMap<string, RateLimitRule>;
  readonly listSizes: ReadonlyMap<string, ListSizeHint>;
  readonly weights: ReadonlyMap<string, number>;
  /** Size of a list with no slicing argument and no `@listSize` hint. @default 10 */
  readonly defaultListSize: number;
}

export interface LimitedCall {
  readonly rule: RateLimitRule;
  /** Times the field is called: one per occurrence (aliases included), or its list argument's length. */
  readonly count: number;
}

export interface OperationWalk {
  /** Estimated cost: 1 per object (or its `@cost` weight), each list element counted, sizes multiplied down. */
  readonly cost: number;
  /** Rate-limited fields the operation calls, by coordinate. */
  readonly calls: ReadonlyMap<string, LimitedCall>;
}

/** Arguments that give a list's length when no `@listSize` says otherwise. */
const CONVENTIONAL_SLICING = ["first", "last", "limit"];
/** Children of a connection that its slicing argument sizes, when no `@listSize` says otherwise. */
const CONVENTIONAL_SIZED = new Set(["nodes", "edges"]);

/**
 * Walks an operation as it will execute: with its variables, through fragments and inline
 * fragments, dropping what `@skip`/`@include` drop, counting every alias of a limited field as a
 * call. Fragments are walked once per parent type and reused, so nesting spreads cannot make the
 * walk itself expensive.
 */
export function walkOperation(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  policies: WalkPolicies,
): OperationWalk {
  const calls = new Map<string, LimitedCall>();
  const memo = new Map<string, { cost: number; calls: Map<string, number> }>();
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

  const listSize = (coordinate: string, field: GraphQLField<unknown, unknown>, args: Record<string, unknown>) => {
    const hint = policies.listSizes.get(coordinate);
    const slicing = hint?.slicingArguments.length
      ? hint.slicingArguments
      : CONVENTIONAL_SLICING.filter((name) => field.args.some((a) => a.name === name));
    let size: number | null = null;
    for (const name of slicing) {
      const given = args[name] ?? field.args.find((a) => a.name === name)?.defaultValue;
      if (typeof given === "number" && Number.isFinite(given)) size = Math.max(size ?? 0, Math.max(0, given));
    }
    return { size, sliced: slicing.length > 0, hint };
  };

  /** Cost of a selection set on `type`, adding limited calls (times `times`) into `into`. */
  const selectionSet = (
    set: SelectionSetNode,
    type: GraphQLCompositeType,
    sizedChildren: { size: number; fields: ReadonlySet<string> } | null,
    into: Map<string, number>,
  ): number => {
    let cost = 0;
    for (const selection of set.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        cost += field(selection, type, sizedChildren, into);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        if (on && isCompositeType(on)) cost += selectionSet(selection.selectionSet, on, sizedChildren, into);
      } else {
        const result = fragment(selection.name.value);
        if (!result) continue;
        cost += result.cost;
        for (const [coordinate, count] of result.calls) into.set(coordinate, (into.get(coordinate) ?? 0) + count);
      }
    }
    return cost;
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
    const cost = selectionSet(definition.selectionSet, on, null, own);
    visiting.delete(name);
    const result = { cost, calls: own };
    memo.set(name, result);
    return result;
  };

  const field = (
    node: FieldNode,
    parent: GraphQLCompositeType,
    sizedChildren: { size: number; fields: ReadonlySet<string> } | null,
    into: Map<string, number>,
  ): number => {
    const name = node.name.value;
    if (name.startsWith("__")) return 0;
    const definition = isObjectType(parent) || "getFields" in parent ? fieldOf(parent, name) : undefined;
    if (!definition) return 0;
    const coordinate = `${parent.name}.${name}`;
    const rule = policies.rateLimits.get(coordinate);
    const args = node.arguments?.length || rule?.arrayLengthField ? argumentValues(node) : {};
    if (rule) {
      const count = rule.arrayLengthField ? arrayLength(args, rule.arrayLengthField) : 1;
      into.set(coordinate, (into.get(coordinate) ?? 0) + count);
    }
    const named: GraphQLNamedType = getNamedType(definition.type);
    const composite = isCompositeType(named);
    const weight = policies.weights.get(coordinate) ?? (composite ? 1 : 0);
    if (!composite || !node.selectionSet) return weight;

    const { size, sliced, hint } = listSize(coordinate, definition, args);
    const isList = isListType(getNullableType(definition.type));
    let multiplier = 1;
    let childSizes: { size: number; fields: ReadonlySet<string> } | null = null;
    if (isList) {
      multiplier = sizedChildren?.fields.has(name)
        ? sizedChildren.size
        : (size ?? hint?.assumedSize ?? policies.defaultListSize);
    } else if (sliced) {
      // A connection: its slicing argument sizes its list children.
      const fields = hint?.sizedFields.length ? new Set(hint.sizedFields) : CONVENTIONAL_SIZED;
      childSizes = { size: size ?? hint?.assumedSize ?? policies.defaultListSize, fields };
    }
    // Every element of a list costs its own weight and its selections.
    return multiplier * (weight + selectionSet(node.selectionSet, named as GraphQLCompositeType, childSizes, into));
  };

  const root = operationRoot(schema, operation);
  const totals = new Map<string, number>();
  const cost = root ? selectionSet(operation.selectionSet, root, null, totals) : 0;
  for (const [coordinate, count] of totals) {
    const rule = policies.rateLimits.get(coordinate);
    if (rule && count > 0) calls.set(coordinate, { rule, count });
  }
  return { cost, calls };
}

function fieldOf(type: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  return "getFields" in type ? type.getFields()[name] : undefined;
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
