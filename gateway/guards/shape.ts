import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import type { ErrorCode } from "../errors.ts";

/** Static limits on an operation's shape; 0 turns a limit off. */
export interface ShapeLimits {
  /** Deepest field nesting, through fragments; introspection fields are measured apart. @default 10 */
  readonly maxDepth: number;
  /** Depth allowed inside `__schema` / `__type` (the standard introspection query needs 13). @default 15 */
  readonly maxIntrospectionDepth: number;
  /** Aliases in one operation, each fragment counted as often as it is spread. @default 20 */
  readonly maxAliases: number;
  /** Distinct fields (response keys) at the root of one operation. @default 10 */
  readonly maxRootFields: number;
  /** Directives on one field, fragment spread or inline fragment. @default 4 */
  readonly maxDirectives: number;
  /** Times one response key is selected in one selection set (fragments merged in). @default 5 */
  readonly maxRepeatedFields: number;
}

export interface OperationShape {
  depth: number;
  introspectionDepth: number;
  aliases: number;
  rootFields: number;
  directives: number;
  repeatedFields: number;
}

interface Refusal {
  code: ErrorCode;
  message: string;
  limit: number;
  actual: number;
}

interface Summary {
  depth: number;
  introspectionDepth: number;
  aliases: number;
  directives: number;
  repeatedFields: number;
  /** Response keys selected directly in this set, fragments merged in: key → times. */
  keys: Map<string, number>;
  fields: number;
}

const INTROSPECTION = new Set(["__schema", "__type"]);

/**
 * Measures an operation as written: every field, whether or not `@skip`/`@include` would drop it
 * at run time (what a client sends is what the gateway must parse, validate and plan). Fragments
 * are measured once each and reused, so spreading one fragment many times costs nothing extra
 * here while still counting in the totals; spread cycles (refused by validation) are cut.
 */
export function measureOperation(
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
): OperationShape {
  const memo = new Map<string, Summary>();
  const visiting = new Set<string>();

  const fragment = (name: string): Summary | null => {
    const cached = memo.get(name);
    if (cached) return cached;
    const definition = fragments.get(name);
    if (!definition || visiting.has(name)) return null;
    visiting.add(name);
    const summary = selectionSet(definition.selectionSet, false);
    visiting.delete(name);
    memo.set(name, summary);
    return summary;
  };

  const selectionSet = (set: SelectionSetNode, introspection: boolean): Summary => {
    const summary: Summary = {
      depth: 0,
      introspectionDepth: 0,
      aliases: 0,
      directives: 0,
      repeatedFields: 0,
      keys: new Map(),
      fields: 0,
    };
    const merge = (inner: Summary) => {
      summary.depth = Math.max(summary.depth, inner.depth);
      summary.introspectionDepth = Math.max(summary.introspectionDepth, inner.introspectionDepth);
      summary.aliases += inner.aliases;
      summary.directives = Math.max(summary.directives, inner.directives);
      summary.repeatedFields = Math.max(summary.repeatedFields, inner.repeatedFields);
      summary.fields += inner.fields;
      for (const [key, times] of inner.keys) summary.keys.set(key, (summary.keys.get(key) ?? 0) + times);
    };
    for (const selection of set.selections) {
      summary.directives = Math.max(summary.directives, selection.directives?.length ?? 0);
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        summary.keys.set(key, (summary.keys.get(key) ?? 0) + 1);
        summary.fields += 1;
        if (selection.alias) summary.aliases += 1;
        const inIntrospection = introspection || INTROSPECTION.has(selection.name.value);
        if (!selection.selectionSet) {
          if (inIntrospection) summary.introspectionDepth = Math.max(summary.introspectionDepth, 1);
          else summary.depth = Math.max(summary.depth, 1);
          continue;
        }
        const child = selectionSet(selection.selectionSet, inIntrospection);
        summary.aliases += child.aliases;
        summary.directives = Math.max(summary.directives, child.directives);
        summary.repeatedFields = Math.max(summary.repeatedFields, child.repeatedFields);
        if (inIntrospection) {
          summary.introspectionDepth = Math.max(summary.introspectionDepth, 1 + child.introspectionDepth);
        } else {
          summary.depth = Math.max(summary.depth, 1 + child.depth);
          summary.introspectionDepth = Math.max(summary.introspectionDepth, 1 + child.introspectionDepth);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        merge(selectionSet(selection.selectionSet, introspection));
      } else {
        const inner = fragment(selection.name.value);
        if (inner) merge(inner);
      }
    }
    for (const times of summary.keys.values()) summary.repeatedFields = Math.max(summary.repeatedFields, times);
    return summary;
  };

  const root = selectionSet(operation.selectionSet, false);
  return {
    depth: root.depth,
    introspectionDepth: root.introspectionDepth,
    aliases: root.aliases,
    rootFields: root.keys.size,
    directives: Math.max(root.directives, operation.directives?.length ?? 0),
    repeatedFields: root.repeatedFields,
  };
}

/** The first limit an operation shape breaks, or null. */
export function checkShape(shape: OperationShape, limits: ShapeLimits): Refusal | null {
  const over = (limit: number, actual: number) => limit > 0 && actual > limit;
  if (over(limits.maxDepth, shape.depth)) {
    return {
      code: "DEPTH_LIMIT_EXCEEDED",
      message: "Operation is too deep",
      limit: limits.maxDepth,
      actual: shape.depth,
    };
  }
  if (over(limits.maxIntrospectionDepth, shape.introspectionDepth)) {
    return {
      code: "DEPTH_LIMIT_EXCEEDED",
      message: "Introspection query is too deep",
      limit: limits.maxIntrospectionDepth,
      actual: shape.introspectionDepth,
    };
  }
  if (over(limits.maxAliases, shape.aliases)) {
    return {
      code: "ALIAS_LIMIT_EXCEEDED",
      message: "Too many aliases",
      limit: limits.maxAliases,
      actual: shape.aliases,
    };
  }
  if (over(limits.maxRepeatedFields, shape.repeatedFields)) {
    return {
      code: "REPEATED_FIELD_LIMIT_EXCEEDED",
      message: "The same field is selected too many times",
      limit: limits.maxRepeatedFields,
      actual: shape.repeatedFields,
    };
  }
  if (over(limits.maxRootFields, shape.rootFields)) {
    return {
      code: "ROOT_FIELD_LIMIT_EXCEEDED",
      message: "Too many root fields in one operation",
      limit: limits.maxRootFields,
      actual: shape.rootFields,
    };
  }
  if (over(limits.maxDirectives, shape.directives)) {
    return {
      code: "DIRECTIVE_LIMIT_EXCEEDED",
      message: "Too many directives on one selection",
      limit: limits.maxDirectives,
      actual: shape.directives,
    };
  }
  return null;
}

/**
 * A validation rule that refuses operations over the shape limits. It measures the whole
 * document when validation enters it, so its error comes before any other validation error
 * (a probe is named for what it is), and Apollo Server caches the verdict with the document.
 * Apollo wraps validation errors as GRAPHQL_VALIDATION_FAILED; the error keeps the contract code
 * in its original error, which `restoreGuardCodes` puts back when formatting.
 */
export function createShapeRule(limits: ShapeLimits, onRefusal?: (code: ErrorCode) => void): ValidationRule {
  return (context: ValidationContext) => ({
    Document(document: DocumentNode) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of document.definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      for (const definition of document.definitions) {
        if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
        const refusal = checkShape(measureOperation(definition, fragments), limits);
        if (refusal) {
          onRefusal?.(refusal.code);
          context.reportError(
            new GraphQLError(refusal.message, {
              nodes: [definition],
              extensions: { code: refusal.code, limit: refusal.limit, actual: refusal.actual },
            }),
          );
          return false;
        }
      }
      return undefined;
    },
  });
}
