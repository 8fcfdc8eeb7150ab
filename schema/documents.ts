import { readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { apiSchemaOf, buildManifest, readDocuments } from "../gateway/trusted-documents/index.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_MANIFEST = resolve(here, "trusted-documents.json");
const DEFAULT_SUPERGRAPH = resolve(here, "supergraph.graphql");

const USAGE =
  "usage: npm run documents:build -- 'GLOB' [...] [--supergraph schema/supergraph.graphql] [--out schema/trusted-documents.json]";

/**
 * Builds the trusted documents manifest from `.graphql` files, validated against the API schema
 * of the committed supergraph. With any invalid document nothing is written and the exit code is 1.
 */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { positionals, values } = parsed;
  if (positionals.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const supergraphPath = resolve(values.supergraph ?? DEFAULT_SUPERGRAPH);
  const outPath = resolve(values.out ?? DEFAULT_MANIFEST);
  const documents = await readDocuments(positionals);
  if (documents.length === 0) {
    console.error(`no file matches ${positionals.join(" ")}`);
    return 1;
  }
  const { manifest, problems } = buildManifest(documents, apiSchemaOf(readFileSync(supergraphPath, "utf8")));
  if (problems.length > 0) {
    console.error(
      `refused, nothing written (${problems.length} problem(s)):\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
    return 1;
  }
  writeFileSync(outPath, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(
    `${manifest.operations.length} operation(s) from ${documents.length} file(s) -> ${relative(process.cwd(), outPath)}`,
  );
  return 0;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: { supergraph: { type: "string" }, out: { type: "string" } },
    strict: true,
    allowPositionals: true,
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
