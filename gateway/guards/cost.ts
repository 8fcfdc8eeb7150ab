import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isAbstractType,
  isCompositeType,
  isInputObjectType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  type ValueNode,
} from "graphql";
import { LRUCache } from "lru-cache";
import type { ListSizeHint } from "./directives.ts";

/** What the cost model reads from the supergraph (`@cost`, `@listSize`) and the configuration. */
export interface CostPolicies {
  /** `Type.field` → `@listSize`. */
  readonly listSizes: ReadonlyMap<string, ListSizeHint>;
  /** `@cost` weights by schema coordinate (`Type.field`, `Type`, `Type.field(arg:)`, `Input.field`). */
  readonly weights: ReadonlyMap<string, number>;
  /** Size of a list with no slicing argument and no `@listSize(assumedSize:)`. @default 5 */
  readonly defaultListSize: number;
}

/** An estimate, or the reason the operation cannot be estimated (`requireOneSlicingArgument`). */
export type CostEstimate = { readonly cost: number } | { readonly invalid: string };

/** Arguments that give a list's length on fields without `@listSize`. */
const CONVENTIONAL_SLICING = ["first", "last", "limit"];
/** Children of a connection its slicing argument sizes, on fields without `@listSize`. */
const CONVENTIONAL_SIZED: ReadonlySet<string> = new Set(["nodes", "edges"]);

interface Sized {
  readonly size: number;
  readonly fields: ReadonlySet<string>;
}

/**
 * The estimated cost of an operation per the GraphQL Cost Directives specification (what Apollo
 * Router's demand control and Hive Gateway implement):
 *
 * - a field costs its weight: `@cost` on the field, else on its type, else 1 for an object,
 *   interface or union and 0 for a scalar or enum; plus its arguments' weights (an input object
 *   weighs 1 and its fields, a scalar argument 0, unless `@cost` says otherwise);
 * - a list field costs its size × (its weight + its selections); the size is the largest given
 *   slicing argument, else `@listSize(assumedSize:)`, else the default list size, or the size a
 *   parent connection gives it through `sizedFields`; without `@listSize`, `first`/`last`/`limit`
 *   and `nodes`/`edges` are taken by convention;
 * - on an abstract type, fragments for different concrete types take the costliest type, not the
 *   sum: one object in the response is only ever one of them;
 * - `@skip`/`@include` remove a selection only when their condition is a literal; a variable
 *   condition counts the selection (the estimate never depends on which branch a client picks,
 *   so it can be cached per document).
 *
 * Reads variables only through `variable`, so the caller learns which ones the estimate depends
 * on (the whole operation is always walked, so that set does not depend on the values). An
 * operation with a field whose `@listSize` requires one slicing argument and gets none or several
 * is `invalid`.
 */
export function estimateCost(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variable: (name: string) => unknown,
  policies: CostPolicies,
): CostEstimate {
  const { weights, listSizes, defaultListSize } = policies;
  let invalid: string | null = null;
  const fieldMemo = new Map<FieldNode, Map<number, number>>();
  const fragmentMemo = new Map<string, number>();
  const visiting = new Set<string>();

  const literal = (node: ValueNode): unknown => {
    switch (node.kind) {
      case Kind.VARIABLE:
        return variable(node.name.value);
      case Kind.INT:
      case Kind.FLOAT:
        return Number(node.value);
      case Kind.STRING:
      case Kind.ENUM:
        return node.value;
      case Kind.BOOLEAN:
        return node.value;
      case Kind.NULL:
        return null;
      case Kind.LIST:
        return node.values.map(literal);
      case Kind.OBJECT:
        return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value)]));
    }
  };

  const inputCost = (value: unknown, type: GraphQLInputType, declared: number | undefined): number => {
    if (value == null) return 0;
    const nullable = getNullableType(type);
    if (isListType(nullable)) {
      const items = Array.isArray(value) ? value : [value];
      let cost = declared ?? 0;
      for (const item of items) cost += inputCost(item, nullable.ofType, declared);
      return cost;
    }
    if (isInputObjectType(nullable)) {
      let cost = declared ?? weights.get(nullable.name) ?? 1;
      if (typeof value !== "object") return cost;
      const fields = nullable.getFields();
      for (const [name, inner] of Object.entries(value as Record<string, unknown>)) {
        const field = fields[name];
        if (field) cost += inputCost(inner, field.type, weights.get(`${nullable.name}.${name}`));
      }
      return cost;
    }
    return declared ?? weights.get(nullable.name) ?? 0;
  };

  /** Whether an argument of this type can weigh anything (else its value is never read). */
  const mayWeigh = (type: GraphQLInputType, declared: number | undefined): boolean => {
    if (declared !== undefined) return true;
    const named = getNamedType(type);
    return isInputObjectType(named) || weights.has(named.name);
  };

  const argumentOf = (node: FieldNode, name: string) => node.arguments?.find((a) => a.name.value === name);

  const field = (node: FieldNode, parent: GraphQLCompositeType, sized: Sized | null): number => {
    const name = node.name.value;
    if (name.startsWith("__")) return 0;
    const definition = "getFields" in parent ? parent.getFields()[name] : undefined;
    if (!definition) return 0;
    const key = sized?.fields.has(name) ? sized.size : -1;
    const memo = fieldMemo.get(node)?.get(key);
    if (memo !== undefined) return memo;

    const coordinate = `${parent.name}.${name}`;
    const named = getNamedType(definition.type);
    const composite = isCompositeType(named);
    const weight = weights.get(coordinate) ?? weights.get(named.name) ?? (composite ? 1 : 0);

    let argumentsCost = 0;
    for (const argument of definition.args) {
      const declared = weights.get(`${coordinate}(${argument.name}:)`);
      if (!mayWeigh(argument.type, declared)) continue;
      const given = argumentOf(node, argument.name);
      if (given) argumentsCost += inputCost(literal(given.value), argument.type, declared);
    }

    const hint = listSizes.get(coordinate);
    const slicing = hint?.slicingArguments.length
      ? hint.slicingArguments
      : hint
        ? []
        : CONVENTIONAL_SLICING.filter((a) => definition.args.some((d) => d.name === a));
    let sliced: number | null = null;
    let provided = 0;
    for (const argument of slicing) {
      const given = argumentOf(node, argument);
      const value = given ? literal(given.value) : definition.args.find((d) => d.name === argument)?.defaultValue;
      if (value == null) continue;
      provided += 1;
      if (typeof value === "number" && Number.isFinite(value)) sliced = Math.max(sliced ?? 0, Math.max(0, value));
    }
    if (hint?.requireOneSlicingArgument && hint.slicingArguments.length > 0 && provided !== 1) {
      invalid ??= `${coordinate} needs exactly one of ${hint.slicingArguments.map((a) => `"${a}"`).join(", ")}`;
    }
    const size = sliced ?? hint?.assumedSize ?? defaultListSize;

    let instances = 1;
    let childSized: Sized | null = null;
    if (isListType(getNullableType(definition.type))) {
      instances = key >= 0 ? key : size;
    } else if (hint?.sizedFields.length) {
      childSized = { size, fields: new Set(hint.sizedFields) };
    } else if (!hint && slicing.length > 0) {
      childSized = { size, fields: CONVENTIONAL_SIZED };
    }
    const children = composite && node.selectionSet ? selectionSet(node.selectionSet, named, childSized) : 0;
    const cost = instances * (weight + children) + argumentsCost;
    const byKey = fieldMemo.get(node) ?? new Map<number, number>();
    byKey.set(key, cost);
    fieldMemo.set(node, byKey);
    return cost;
  };

  /** Sum of the selections that apply when the object is `concrete` (null: all of them). */
  const sum = (
    set: SelectionSetNode,
    type: GraphQLCompositeType,
    concrete: GraphQLObjectType | null,
    sized: Sized | null,
  ): number => {
    let cost = 0;
    for (const selection of set.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        cost += field(selection, type, sized);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        if (!on || !isCompositeType(on) || !applies(on, concrete)) continue;
        cost += sum(selection.selectionSet, on, concrete, sized);
      } else {
        cost += fragment(selection.name.value, concrete, sized);
      }
    }
    return cost;
  };

  const fragment = (name: string, concrete: GraphQLObjectType | null, sized: Sized | null): number => {
    const key = `${name}\n${concrete?.name ?? ""}\n${sized?.size ?? -1}`;
    const cached = fragmentMemo.get(key);
    if (cached !== undefined) return cached;
    const definition = fragments.get(name);
    if (!definition || visiting.has(name)) return 0;
    const on = schema.getType(definition.typeCondition.name.value);
    if (!on || !isCompositeType(on) || !applies(on, concrete)) return 0;
    visiting.add(name);
    const cost = sum(definition.selectionSet, on, concrete, sized);
    visiting.delete(name);
    fragmentMemo.set(key, cost);
    return cost;
  };

  const applies = (condition: GraphQLCompositeType, concrete: GraphQLObjectType | null): boolean =>
    concrete === null || condition === concrete || (isAbstractType(condition) && schema.isSubType(condition, concrete));

  const selectionSet = (set: SelectionSetNode, type: GraphQLCompositeType, sized: Sized | null): number => {
    if (isObjectType(type)) return sum(set, type, type, sized);
    if (!narrows(set, type)) return sum(set, type, null, sized);
    // One object is one concrete type: the costliest one bounds the cost.
    let most = 0;
    for (const concrete of schema.getPossibleTypes(type)) most = Math.max(most, sum(set, type, concrete, sized));
    return most;
  };

  const root =
    operation.operation === "query"
      ? schema.getQueryType()
      : operation.operation === "mutation"
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  const cost = root ? selectionSet(operation.selectionSet, root, null) : 0;
  return invalid === null ? { cost } : { invalid };
}

/** Whether a selection set on an abstract type has fragments that apply to some members only. */
function narrows(set: SelectionSetNode, type: GraphQLCompositeType): boolean {
  return set.selections.some(
    (s) =>
      s.kind === Kind.FRAGMENT_SPREAD ||
      (s.kind === Kind.INLINE_FRAGMENT && s.typeCondition !== undefined && s.typeCondition.name.value !== type.name),
  );
}

/** `@skip(if: true)` and `@include(if: false)` written as literals drop a selection; variables do not. */
function included(node: SelectionNode): boolean {
  for (const directive of node.directives ?? []) {
    const name = directive.name.value;
    if (name !== "skip" && name !== "include") continue;
    const condition = directive.arguments?.find((a) => a.name.value === "if")?.value;
    if (condition?.kind !== Kind.BOOLEAN) continue;
    if (name === "skip" && condition.value) return false;
    if (name === "include" && !condition.value) return false;
  }
  return true;
}

export interface CostEstimatorOptions {
  /** Operations (document × operation name) whose analysis is kept. @default 1000 */
  readonly maxDocuments?: number;
  /** Variable combinations kept per operation whose estimate depends on variables. @default 32 */
  readonly maxVariants?: number;
}

export interface CostRequest {
  readonly schema: GraphQLSchema;
  readonly policies: CostPolicies;
  /** The document as sent; null when there is none to key the cache with (then nothing is kept). */
  readonly query: string | null;
  readonly operation: OperationDefinitionNode;
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  /** Coerced variables, defaults applied. */
  readonly variables: Readonly<Record<string, unknown>>;
}

/** Longest key (the values of the variables read) under which an estimate is kept. */
const MAX_VARIANT_KEY = 1024;

interface Analysis {
  /** Variables the estimate read; the same for any values, since no variable decides what is walked. */
  readonly variables: readonly string[];
  readonly byValues: Map<string, CostEstimate>;
}

/**
 * Estimates once per document, operation and values of the variables the estimate reads (a
 * document whose cost reads no variable is estimated once, whatever its variables). Forgets
 * everything when the schema or its policies change.
 */
export function createCostEstimator(options: CostEstimatorOptions = {}) {
  const maxVariants = options.maxVariants ?? 32;
  const cache = new LRUCache<string, Analysis>({
    max: options.maxDocuments ?? 1000,
    // Keys hold whole documents: bound their total size too.
    maxSize: 16 * 1024 * 1024,
    sizeCalculation: (_value, key) => key.length + 256,
  });
  let schemaSeen: GraphQLSchema | null = null;
  let policiesSeen: CostPolicies | null = null;

  const compute = (request: CostRequest, read: (name: string) => unknown): CostEstimate =>
    estimateCost(request.schema, request.operation, request.fragments, read, request.policies);

  return {
    estimate(request: CostRequest): CostEstimate {
      if (request.schema !== schemaSeen || request.policies !== policiesSeen) {
        cache.clear();
        schemaSeen = request.schema;
        policiesSeen = request.policies;
      }
      const values = request.variables;
      if (request.query === null) return compute(request, (name) => values[name]);
      const key = `${request.operation.name?.value ?? ""}\n${request.query}`;
      const known = cache.get(key);
      if (known) {
        const variant = JSON.stringify(known.variables.map((name) => values[name] ?? null));
        const hit = known.byValues.get(variant);
        if (hit) return hit;
        const estimate = compute(request, (name) => values[name]);
        // Big inputs (a long list argument) are estimated each time rather than kept.
        if (variant.length > MAX_VARIANT_KEY) return estimate;
        if (known.byValues.size >= maxVariants) known.byValues.delete(known.byValues.keys().next().value!);
        known.byValues.set(variant, estimate);
        return estimate;
      }
      const read = new Set<string>();
      const estimate = compute(request, (name) => {
        read.add(name);
        return values[name];
      });
      const variables = [...read];
      const variant = JSON.stringify(variables.map((name) => values[name] ?? null));
      cache.set(key, { variables, byValues: new Map(variant.length > MAX_VARIANT_KEY ? [] : [[variant, estimate]]) });
      return estimate;
    },
    /** Analyses kept (for tests and diagnostics). */
    get size() {
      return cache.size;
    },
  };
}

export type CostEstimator = ReturnType<typeof createCostEstimator>;

/** Objects in a response's `data` (the root object not counted): what the estimate predicts. */
export function countObjects(data: unknown): number {
  return data !== null && typeof data === "object" ? objectsWithin(data) : 0;
}

/** Objects below `value` (not itself): recursion bounded by the depth limit, no arrays of values made. */
function objectsWithin(value: object): number {
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === "object") count += (Array.isArray(item) ? 0 : 1) + objectsWithin(item);
    }
    return count;
  }
  for (const key in value) {
    const inner = (value as Record<string, unknown>)[key];
    if (inner !== null && typeof inner === "object") count += (Array.isArray(inner) ? 0 : 1) + objectsWithin(inner);
  }
  return count;
}
