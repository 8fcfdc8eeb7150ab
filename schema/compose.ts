import { readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { parse as parseYaml } from "yaml";

export interface SubgraphSource {
  name: string;
  /** Where the gateway sends this subgraph's fetches. */
  url: string;
  sdl: string;
}

export class CompositionError extends Error {
  override name = "CompositionError";
}

interface SupergraphConfig {
  subgraphs?: Record<string, { routing_url?: string; schema?: { file?: string } }>;
}

/** Reads a rover-style supergraph.yaml: each subgraph's name, routing URL and schema file. */
export function readSupergraphConfig(configPath: string): SubgraphSource[] {
  const config = parseYaml(readFileSync(configPath, "utf8")) as SupergraphConfig | null;
  const entries = Object.entries(config?.subgraphs ?? {});
  if (entries.length === 0) throw new CompositionError(`${configPath} lists no subgraphs`);
  return entries.map(([name, entry]) => {
    if (!entry.routing_url) throw new CompositionError(`subgraph "${name}" has no routing_url`);
    if (!entry.schema?.file) throw new CompositionError(`subgraph "${name}" has no schema.file`);
    const file = resolve(dirname(configPath), entry.schema.file);
    return { name, url: entry.routing_url, sdl: readFileSync(file, "utf8") };
  });
}

/** Composes subgraph schemas into a supergraph SDL, or throws with every composition error. */
export function composeSupergraph(subgraphs: readonly SubgraphSource[]): string {
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
  return result.supergraphSdl;
}

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CONFIG = resolve(here, "supergraph.yaml");
export const DEFAULT_SUPERGRAPH = resolve(here, "supergraph.graphql");
/** Kustomize reads files only inside its folder: the supergraph ConfigMap is built from this copy. */
const DEPLOY_COPY = resolve(here, "../deploy/k8s/base/supergraph.graphql");

function main(argv: string[]): number {
  const configPath = resolve(argv[0] ?? DEFAULT_CONFIG);
  const outPath = resolve(argv[1] ?? DEFAULT_SUPERGRAPH);
  try {
    const sdl = composeSupergraph(readSupergraphConfig(configPath));
    writeFileSync(outPath, `${sdl.trimEnd()}\n`);
    if (outPath === DEFAULT_SUPERGRAPH) writeFileSync(DEPLOY_COPY, `${sdl.trimEnd()}\n`);
    console.log(`composed ${relative(process.cwd(), configPath)} -> ${relative(process.cwd(), outPath)}`);
    return 0;
  } catch (error) {
    console.error(error instanceof CompositionError ? error.message : error);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
