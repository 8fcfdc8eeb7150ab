import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

const require = createRequire(import.meta.url);
// Composition and the GraphQL parser load when something is composed, not with this module: `npm start`
// reads the yaml through it on every start and composes only when ports move (about 0.7 s saved).
const composition = () => ({
  composeServices: (require("@apollo/composition") as typeof import("@apollo/composition")).composeServices,
  parse: (require("graphql") as typeof import("graphql")).parse,
});

export interface SubgraphSource {
  name: string;
  /** Where the gateway sends this subgraph's fetches. */
  url: string;
  sdl: string;
}

/** Where a subgraph's schema comes from: a file beside the config, or the running service itself. */
export type SchemaSource =
  | { kind: "file"; path: string }
  | { kind: "subgraph_url"; url: string; headers: Record<string, string> };

/** One subgraph of a supergraph.yaml, as written (schemas not read yet). */
export interface SupergraphEntry {
  name: string;
  routingUrl: string;
  schema: SchemaSource;
}

export class CompositionError extends Error {
  override name = "CompositionError";
}

interface SupergraphConfig {
  subgraphs?: Record<
    string,
    {
      routing_url?: string;
      schema?: { file?: string; subgraph_url?: string; introspection_headers?: Record<string, string> };
    } | null
  >;
}

/**
 * Reads a rover-style supergraph.yaml: each subgraph's name, routing URL and where its schema is
 * (`schema.file`, relative to the config, or `schema.subgraph_url`, read through `_service { sdl }`;
 * as in rover, `routing_url` defaults to the `subgraph_url`).
 */
export function readSupergraphEntries(configPath: string): SupergraphEntry[] {
  const config = parseYaml(readFileSync(configPath, "utf8")) as SupergraphConfig | null;
  const entries = Object.entries(config?.subgraphs ?? {});
  if (entries.length === 0) throw new CompositionError(`${configPath} lists no subgraphs`);
  return entries.map(([name, entry]) => {
    const schema = entry?.schema;
    let source: SchemaSource;
    if (schema?.file) source = { kind: "file", path: resolve(dirname(configPath), schema.file) };
    else if (schema?.subgraph_url) {
      source = { kind: "subgraph_url", url: schema.subgraph_url, headers: schema.introspection_headers ?? {} };
    } else throw new CompositionError(`subgraph "${name}" has neither schema.file nor schema.subgraph_url`);
    const routingUrl = entry?.routing_url ?? (source.kind === "subgraph_url" ? source.url : undefined);
    if (!routingUrl) throw new CompositionError(`subgraph "${name}" has no routing_url`);
    return { name, routingUrl, schema: source };
  });
}

function readSchemaFile(name: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CompositionError(`subgraph "${name}": cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`);
  }
}

/**
 * The subgraphs of a supergraph.yaml whose schemas are files, read synchronously. A config with a
 * `schema.subgraph_url` needs {@link loadSubgraphSources}.
 */
export function readSupergraphConfig(configPath: string): SubgraphSource[] {
  return readSupergraphEntries(configPath).map((entry) => {
    if (entry.schema.kind !== "file") {
      throw new CompositionError(`subgraph "${entry.name}" reads its schema from a URL: use loadSubgraphSources`);
    }
    return { name: entry.name, url: entry.routingUrl, sdl: readSchemaFile(entry.name, entry.schema.path) };
  });
}

/** Reads a running subgraph's SDL as rover does: the Federation `{ _service { sdl } }` query. */
export async function fetchSubgraphSdl(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ query: "query SubgraphIntrospectQuery { _service { sdl } }" }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new CompositionError(`cannot read the schema at ${url}: ${(error as Error).message}`);
  }
  const body = (await res.json().catch(() => null)) as {
    data?: { _service?: { sdl?: string } };
    errors?: { message: string }[];
  } | null;
  const sdl = body?.data?._service?.sdl;
  if (!res.ok || typeof sdl !== "string") {
    const why = body?.errors?.map((e) => e.message).join("; ") || `HTTP ${res.status}`;
    throw new CompositionError(`cannot read the schema at ${url}: ${why}`);
  }
  return sdl;
}

/** Every subgraph of a supergraph.yaml with its schema, files read and `subgraph_url`s fetched. */
export async function loadSubgraphSources(configPath: string): Promise<SubgraphSource[]> {
  return Promise.all(
    readSupergraphEntries(configPath).map(async (entry) => ({
      name: entry.name,
      url: entry.routingUrl,
      sdl:
        entry.schema.kind === "file"
          ? readSchemaFile(entry.name, entry.schema.path)
          : await fetchSubgraphSdl(entry.schema.url, entry.schema.headers),
    })),
  );
}

export interface Composition {
  supergraphSdl: string;
  /** Composition hints (not errors): `[CODE] message` each. */
  hints: string[];
}

/** Composes subgraph schemas into a supergraph with its hints, or throws with every composition error. */
export function compose(subgraphs: readonly SubgraphSource[]): Composition {
  const { composeServices, parse } = composition();
  const services = subgraphs.map((s) => {
    try {
      return { name: s.name, url: s.url, typeDefs: parse(s.sdl) };
    } catch (error) {
      throw new CompositionError(`subgraph "${s.name}": ${(error as Error).message}`);
    }
  });
  const result = composeServices(services);
  if (result.errors) {
    const lines = result.errors.map((e) => {
      const code = (e.extensions?.code as string | undefined) ?? "COMPOSITION_ERROR";
      return `  [${code}] ${e.message}`;
    });
    throw new CompositionError(`composition failed with ${result.errors.length} error(s):\n${lines.join("\n")}`);
  }
  return {
    supergraphSdl: result.supergraphSdl,
    hints: result.hints.map((hint) => `[${hint.definition.code}] ${hint.message}`),
  };
}

/** Composes subgraph schemas into a supergraph SDL, or throws with every composition error. */
export function composeSupergraph(subgraphs: readonly SubgraphSource[]): string {
  return compose(subgraphs).supergraphSdl;
}

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CONFIG = resolve(here, "supergraph.yaml");
export const DEFAULT_SUPERGRAPH = resolve(here, "supergraph.graphql");
/** Kustomize reads files only inside its folder: the supergraph ConfigMap is built from this copy. */
const DEPLOY_COPY = resolve(here, "../deploy/k8s/base/supergraph.graphql");

/**
 * Composes `configPath` into `outPath`, ending with a newline as the committed file does. The file
 * is replaced whole (written beside it, then renamed), so a gateway watching it never reads half.
 */
export async function composeFile(configPath = DEFAULT_CONFIG, outPath = DEFAULT_SUPERGRAPH): Promise<Composition> {
  const composition = compose(await loadSubgraphSources(configPath));
  const sdl = `${composition.supergraphSdl.trimEnd()}\n`;
  const partial = `${outPath}.${process.pid}.partial`;
  writeFileSync(partial, sdl);
  renameSync(partial, outPath);
  if (resolve(outPath) === DEFAULT_SUPERGRAPH) writeFileSync(DEPLOY_COPY, sdl);
  return composition;
}

async function main(argv: string[]): Promise<number> {
  const configPath = resolve(argv[0] ?? DEFAULT_CONFIG);
  const outPath = resolve(argv[1] ?? DEFAULT_SUPERGRAPH);
  try {
    await composeFile(configPath, outPath);
    console.log(`composed ${relative(process.cwd(), configPath)} -> ${relative(process.cwd(), outPath)}`);
    return 0;
  } catch (error) {
    console.error(error instanceof CompositionError ? error.message : error);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
