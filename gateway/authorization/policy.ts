import { type ConstDirectiveNode, type DocumentNode, Kind, parse, type ValueNode } from "graphql";
import type { CallerIdentity } from "../context.ts";

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

export function isAuthenticated(identity: CallerIdentity): boolean {
  return identity.userId !== null || identity.clientId !== null;
}

export function satisfies(requirement: Requirement, identity: CallerIdentity): boolean {
  if (requirement.authenticated && !isAuthenticated(identity)) return false;
  if (!requirement.scopes) return true;
  return requirement.scopes.some((all) => all.every((scope) => identity.scopes.has(scope)));
}

/** Whether a caller may see a field, by its coordinate and the named type it returns. */
export type FieldCheck = (coordinate: string, returnType: string) => boolean;

/** The field check for one caller under a policy. */
export function fieldCheck(policy: AuthorizationPolicy, identity: CallerIdentity): FieldCheck {
  return (coordinate, returnType) => {
    const onField = policy.fields.get(coordinate);
    const onType = policy.types.get(returnType);
    return (!onField || satisfies(onField, identity)) && (!onType || satisfies(onType, identity));
  };
}

export function isEmptyPolicy(policy: AuthorizationPolicy): boolean {
  return policy.fields.size === 0 && policy.types.size === 0;
}
