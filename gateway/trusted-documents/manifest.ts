import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type OperationDefinitionNode, parse } from "graphql";
import { z } from "zod";

/** The `format` of Apollo's persisted query list (what `generate-persisted-query-manifest` writes). */
export const MANIFEST_FORMAT = "apollo-persisted-query-manifest";

export type OperationType = "query" | "mutation" | "subscription";

/** One trusted operation: its id is the SHA-256 (hex) of its body, as APQ clients compute it. */
export interface ManifestOperation {
  readonly id: string;
  readonly name: string;
  readonly type: OperationType;
  readonly body: string;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: 1;
  readonly operations: readonly ManifestOperation[];
}

const MANIFEST = z.object({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256"),
      name: z.string().min(1),
      type: z.enum(["query", "mutation", "subscription"]),
      body: z.string().min(1),
    }),
  ),
});

export class ManifestError extends Error {
  override name = "ManifestError";
}

/** The id of a document: SHA-256 of its exact text, hex (`extensions.persistedQuery.sha256Hash`). */
export function operationId(body: string): string {
  return createHash("sha256").update(body).digest("hex");
}

/**
 * Reads a manifest and checks what a client relies on: every id is the hash of its body (so an
 * APQ client that hashes the body finds it) and no id appears twice.
 */
export function parseManifest(text: string, source = "manifest"): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`${source} is not JSON: ${(error as Error).message}`);
  }
  const result = MANIFEST.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"} ${issue.message}`);
    throw new ManifestError(`${source} is not a persisted query manifest: ${issues.join("; ")}`);
  }
  const seen = new Set<string>();
  for (const operation of result.data.operations) {
    if (operationId(operation.body) !== operation.id) {
      throw new ManifestError(`${source}: operation ${operation.name} has an id that is not the SHA-256 of its body`);
    }
    if (seen.has(operation.id)) throw new ManifestError(`${source}: id ${operation.id} appears twice`);
    seen.add(operation.id);
  }
  return result.data;
}

export function readManifest(path: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ManifestError(`cannot read the trusted documents ${path}: ${(error as Error).message}`);
  }
  return parseManifest(text, path);
}

/**
 * The documents the gateway runs in trusted-only mode, looked up by id or by exact text: two Map
 * lookups, no hashing and no parsing per request.
 */
export class TrustedDocuments {
  private readonly bodies = new Map<string, string>();
  private readonly texts = new Set<string>();
  private readonly names = new Set<string>();

  /**
   * @param manifest the published operations (clients send their ids or their exact text)
   * @param own documents the gateway itself sends (the REST shim's), trusted without a manifest
   */
  constructor(manifest: Manifest | null, own: readonly string[] = []) {
    for (const operation of manifest?.operations ?? []) this.add(operation.id, operation.body, [operation.name]);
    for (const body of own) this.add(operationId(body), body, namesIn(body));
  }

  private add(id: string, body: string, names: readonly string[]): void {
    this.bodies.set(id, body);
    this.texts.add(body);
    for (const name of names) this.names.add(name);
  }

  /** The body of a trusted id; undefined for an unknown one. */
  bodyOf(id: string): string | undefined {
    return this.bodies.get(id);
  }

  /** Whether this exact text is a trusted document. */
  trusts(text: string): boolean {
    return this.texts.has(text);
  }

  /** Names of the trusted operations (bounded by the manifest): metric labels they always keep. */
  get operationNames(): ReadonlySet<string> {
    return this.names;
  }

  get size(): number {
    return this.bodies.size;
  }
}

function namesIn(body: string): string[] {
  return parse(body)
    .definitions.filter((d): d is OperationDefinitionNode => d.kind === "OperationDefinition")
    .flatMap((d) => (d.name ? [d.name.value] : []));
}
