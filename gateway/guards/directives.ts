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
}

export interface SchemaPolicies {
  /** `Type.field` → declared rate limit. */
  readonly rateLimits: ReadonlyMap<string, RateLimitRule>;
  /** `Type.field` → list size hint. */
  readonly listSizes: ReadonlyMap<string, ListSizeHint>;
  /** `Type.field` → declared cost weight (`@cost(weight:)`). */
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
 * from the supergraph SDL itself, where `@composeDirective` carries `@rateLimit` from the
 * subgraphs. Names follow the supergraph's `@link` imports (`{ name: "@rateLimit", as: "@x" }`).
 */
export function readSchemaPolicies(sdl: string): SchemaPolicies {
  const document = parse(sdl, { noLocation: true });
  const names = importedNames(document.definitions);
  const rateLimits = new Map<string, RateLimitRule>();
  const listSizes = new Map<string, ListSizeHint>();
  const weights = new Map<string, number>();
  const problems: string[] = [];

  for (const definition of document.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.OBJECT_TYPE_EXTENSION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_EXTENSION
    ) {
      continue;
    }
    for (const field of definition.fields ?? []) {
      const coordinate = `${definition.name.value}.${field.name.value}`;
      for (const directive of field.directives ?? []) {
        const name = directive.name.value;
        try {
          if (name === names.rateLimit) rateLimits.set(coordinate, makeRule({ coordinate, ...args(directive) }));
          else if (name === names.listSize) listSizes.set(coordinate, listSizeOf(directive, field));
          else if (name === names.cost) weights.set(coordinate, weightOf(directive));
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
  return Object.freeze({ assumedSize, slicingArguments, sizedFields: strings(values.sizedFields) });
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
      const { url, import: imports } = args(directive) as { url?: string; import?: unknown[] };
      if (typeof url !== "string" || !Array.isArray(imports)) continue;
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
