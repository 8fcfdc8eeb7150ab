import {
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isListType,
  isNonNullType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from "graphql";
import type { FieldCheck } from "./policy.ts";

/** One step of a response path, with what GraphQL null propagation needs to know about it. */
export interface PathStep {
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

export interface Removal {
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
export function findRemovals(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  isAllowed: FieldCheck,
): Removal[] {
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  );
  const removals: Removal[] = [];
  const root = schema.getRootType(operation.operation);
  if (!root) return removals;

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
export function filterDocument(document: DocumentNode, schema: GraphQLSchema, isAllowed: FieldCheck): DocumentNode {
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
    const dropEmptied = (node: { name: { value: string } }) => (emptied.has(node.name.value) ? null : undefined);
    filtered = visit(filtered, { FragmentSpread: dropEmptied, FragmentDefinition: dropEmptied });
  }
  return filtered;
}
