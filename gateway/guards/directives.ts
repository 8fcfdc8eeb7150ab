import {
  type ConstDirectiveNode,
  type DefinitionNode,
  type FieldDefinitionNode,
  Kind,
  parse,
  valueFromASTUntyped,
} from "graphql";
import { makeRule, type RateLimitRule } from "./policy.ts";

/** `@listSize` (federation's cost spec, or the same shape under our own name): how long a list is. */
export interface ListSizeHint {
  /** Size assumed when no slicing argument is given. */
  readonly assumedSize: number | null;
  /** Arguments whose value is the list length (`first`, `last`, `limit`). */
  readonly slicingArguments: readonly string[];
  /** On a connection: which child fields the slicing argument sizes (`nodes`, `edges`). */
  readonly sizedFields: readonly string[];
  /** Exactly one slicing argument must be given (a schema default counts). @default true */
  readonly requireOneSlicingArgument: boolean;
}

export interface SchemaPolicies {
  /** `Type.field` → declared rate limit. */
  readonly rateLimits: ReadonlyMap<string, RateLimitRule>;
  /** `Type.field` → list size hint. */
  readonly listSizes: ReadonlyMap<string, ListSizeHint>;
  /**
   * Declared cost weights (`@cost(weight:)`) by schema coordinate: `Type.field` (a field),
   * `Type` (an object, scalar or enum), `Type.field(arg:)` (an argument), `Input.field` (an input
   * field).
   */
  readonly weights: ReadonlyMap<string, number>;
  /** Declarations that could not be used (logged; the rest still applies). */
  readonly problems: readonly string[];
}

export const EMPTY_POLICIES: SchemaPolicies = Object.freeze({
  rateLimits: new Map(),
  listSizes: new Map(),
  weights: new Map(),
  problems: [],
});

/**
 * The API schema `@apollo/gateway` serves keeps no directive applications, so limits are read
 * from the supergraph SDL itself, where composition carries `@cost` and `@listSize` (the cost
 * spec, from federation 2.9 subgraphs) and `@composeDirective` carries `@rateLimit`. Names follow
 * the supergraph's `@link` imports (`{ name: "@rateLimit", as: "@x" }`).
 */
export function readSchemaPolicies(sdl: string): SchemaPolicies {
  const document = parse(sdl, { noLocation: true });
  const names = importedNames(document.definitions);
  const rateLimits = new Map<string, RateLimitRule>();
  const listSizes = new Map<string, ListSizeHint>();
  const weights = new Map<string, number>();
  const problems: string[] = [];

  const weigh = (coordinate: string, directives: readonly ConstDirectiveNode[] | undefined) => {
    for (const directive of directives ?? []) {
      if (directive.name.value !== names.cost) continue;
      try {
        weights.set(coordinate, weightOf(directive));
      } catch (error) {
        problems.push(`@${names.cost} on ${coordinate}: ${(error as Error).message}`);
      }
    }
  };

  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.SCALAR_TYPE_DEFINITION:
      case Kind.SCALAR_TYPE_EXTENSION:
      case Kind.ENUM_TYPE_DEFINITION:
      case Kind.ENUM_TYPE_EXTENSION:
        weigh(definition.name.value, definition.directives);
        continue;
      case Kind.INPUT_OBJECT_TYPE_DEFINITION:
      case Kind.INPUT_OBJECT_TYPE_EXTENSION:
        for (const field of definition.fields ?? []) {
          weigh(`${definition.name.value}.${field.name.value}`, field.directives);
        }
        continue;
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION:
      case Kind.INTERFACE_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_EXTENSION:
        break;
      default:
        continue;
    }
    weigh(definition.name.value, definition.directives);
    for (const field of definition.fields ?? []) {
      const coordinate = `${definition.name.value}.${field.name.value}`;
      for (const argument of field.arguments ?? []) {
        weigh(`${coordinate}(${argument.name.value}:)`, argument.directives);
      }
      weigh(coordinate, field.directives);
      for (const directive of field.directives ?? []) {
        const name = directive.name.value;
        try {
          if (name === names.rateLimit) rateLimits.set(coordinate, makeRule({ coordinate, ...args(directive) }));
          else if (name === names.listSize) listSizes.set(coordinate, listSizeOf(directive, field));
        } catch (error) {
          problems.push(`@${name} on ${coordinate}: ${(error as Error).message}`);
        }
      }
    }
  }
  return Object.freeze({ rateLimits, listSizes, weights, problems });
}

function args(directive: ConstDirectiveNode): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const argument of directive.arguments ?? []) values[argument.name.value] = valueFromASTUntyped(argument.value);
  return values;
}

function listSizeOf(directive: ConstDirectiveNode, field: FieldDefinitionNode): ListSizeHint {
  const values = args(directive);
  const assumedSize = values.assumedSize == null ? null : Number(values.assumedSize);
  if (assumedSize !== null && (!Number.isInteger(assumedSize) || assumedSize < 0)) {
    throw new RangeError("assumedSize must be a non-negative integer");
  }
  const strings = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  const slicingArguments = strings(values.slicingArguments);
  const declared = new Set((field.arguments ?? []).map((a) => a.name.value));
  for (const name of slicingArguments) {
    if (!declared.has(name)) throw new RangeError(`slicing argument "${name}" is not an argument of the field`);
  }
  return Object.freeze({
    assumedSize,
    slicingArguments,
    sizedFields: strings(values.sizedFields),
    requireOneSlicingArgument: values.requireOneSlicingArgument !== false,
  });
}

function weightOf(directive: ConstDirectiveNode): number {
  const weight = Number(args(directive).weight);
  if (!Number.isFinite(weight) || weight < 0) throw new RangeError("weight must be a non-negative number");
  return weight;
}

/** Local names of the directives we read, from `@link(url:, import:)` on the schema. */
function importedNames(definitions: readonly DefinitionNode[]) {
  const names = { rateLimit: "rateLimit", listSize: "listSize", cost: "cost" };
  for (const definition of definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== "link") continue;
      const { url, as, import: imports } = args(directive) as { url?: string; as?: string; import?: unknown[] };
      if (typeof url !== "string") continue;
      // A feature's own directive (`@cost` of the cost spec) is named after the feature's local name.
      if (/^https:\/\/specs\.apollo\.dev\/cost\/v/.test(url) && typeof as === "string") names.cost = as;
      if (!Array.isArray(imports)) continue;
      for (const item of imports) {
        const original = typeof item === "string" ? item : (item as { name?: string }).name;
        const local = typeof item === "string" ? item : ((item as { as?: string }).as ?? original);
        if (!original || !local) continue;
        const key = original.replace(/^@/, "");
        if (key === "rateLimit" || key === "listSize" || key === "cost") names[key] = local.replace(/^@/, "");
      }
    }
  }
  return names;
}
