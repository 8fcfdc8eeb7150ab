import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { Supergraph } from "@apollo/federation-internals";
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  parse,
  print,
  type SelectionSetNode,
  validate,
} from "graphql";
import { glob } from "tinyglobby";
import { MANIFEST_FORMAT, type Manifest, type ManifestOperation, operationId } from "./manifest.ts";

/** One `.graphql` file given to the builder. */
export interface DocumentSource {
  /** Shown in problems. */
  readonly name: string;
  readonly text: string;
}

export interface BuildResult {
  readonly manifest: Manifest;
  /** Everything refused, each naming its file; a manifest with problems must not be written. */
  readonly problems: readonly string[];
}

/** The API schema (what clients may query) of a composed supergraph. */
export function apiSchemaOf(supergraphSdl: string): GraphQLSchema {
  // The gateway enforces the security features (@authenticated, @requiresScopes) itself.
  return Supergraph.build(supergraphSdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
}

/**
 * Builds a persisted query manifest from GraphQL documents. As with Apollo's manifest generator,
 * fragments are shared across files and each named operation becomes one entry whose body is the
 * operation followed by the fragments it uses, printed canonically. Every operation is validated
 * against the schema; anonymous operations and duplicate names are refused, since a name is how
 * the operation is known in metrics and logs.
 */
export function buildManifest(sources: readonly DocumentSource[], schema: GraphQLSchema): BuildResult {
  const problems: string[] = [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  const operations: { source: string; node: OperationDefinitionNode }[] = [];
  for (const source of sources) {
    let document: DocumentNode;
    try {
      document = parse(source.text);
    } catch (error) {
      problems.push(`${source.name}: ${describe(error)}`);
      continue;
    }
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        if (fragments.has(definition.name.value)) {
          problems.push(`${source.name}: fragment ${definition.name.value} is defined twice`);
        }
        fragments.set(definition.name.value, definition);
      } else if (definition.kind === Kind.OPERATION_DEFINITION) {
        operations.push({ source: source.name, node: definition });
      } else {
        problems.push(`${source.name}: only operations and fragments belong in a document (found ${definition.kind})`);
      }
    }
  }
  const entries = new Map<string, ManifestOperation>();
  for (const { source, node } of operations) {
    const name = node.name?.value;
    if (!name) {
      problems.push(`${source}: every operation needs a name`);
      continue;
    }
    if (entries.has(name)) {
      problems.push(`${source}: operation ${name} is defined twice`);
      continue;
    }
    const used = usedFragments(node, fragments);
    if ("missing" in used) {
      problems.push(`${source}: operation ${name} uses the unknown fragment ${used.missing}`);
      continue;
    }
    const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [node, ...used.fragments] };
    const errors = validate(schema, document);
    if (errors.length > 0) {
      problems.push(...errors.map((error) => `${source}: operation ${name}: ${error.message}`));
      continue;
    }
    const body = print(document);
    entries.set(name, { id: operationId(body), name, type: node.operation, body });
  }
  const sorted = [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { manifest: { format: MANIFEST_FORMAT, version: 1, operations: sorted }, problems };
}

/** The fragments an operation uses, directly or through other fragments, sorted by name. */
function usedFragments(
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
): { fragments: FragmentDefinitionNode[] } | { missing: string } {
  const used = new Map<string, FragmentDefinitionNode>();
  const pending: SelectionSetNode[] = [operation.selectionSet];
  while (pending.length > 0) {
    for (const selection of pending.pop()!.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        if (used.has(name)) continue;
        const fragment = fragments.get(name);
        if (!fragment) return { missing: name };
        used.set(name, fragment);
        pending.push(fragment.selectionSet);
      } else if (selection.selectionSet) {
        pending.push(selection.selectionSet);
      }
    }
  }
  return { fragments: [...used.values()].sort((a, b) => (a.name.value < b.name.value ? -1 : 1)) };
}

function describe(error: unknown): string {
  return error instanceof GraphQLError ? error.message : String(error);
}

/** The `.graphql` files matching the globs, read, named relative to `cwd`, in a stable order. */
export async function readDocuments(patterns: readonly string[], cwd = process.cwd()): Promise<DocumentSource[]> {
  const files = await glob([...patterns], { cwd, absolute: true, onlyFiles: true });
  return files.sort().map((file) => ({ name: relative(cwd, file) || file, text: readFileSync(file, "utf8") }));
}
