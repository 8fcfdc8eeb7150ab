/**
 * `npm run subgraph:add -- NAME [--port N]`: scaffolds `subgraphs/NAME/` (schema, resolvers,
 * loaders, storage, server, index) and `test/integration/NAME.test.ts`, lists it in
 * `schema/supergraph.yaml` on a free port, and composes `schema/supergraph.graphql`. `npm start`
 * then runs it, and a running gateway picks the new supergraph up by itself. Nothing is left
 * behind when a step fails (a name that clashes in composition, for example).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseDocument } from "yaml";
import { CompositionError, composeFile, readSupergraphEntries } from "../schema/compose.ts";
import { NAME_PATTERN, namesFor, RESERVED_NAMES, scaffoldFiles } from "./lib/scaffold.ts";

/** Ports `npm start` uses besides the subgraphs': the gateway and the payment provider's sandbox. */
const RESERVED_PORTS = new Set([4000, 4010]);

export class ScaffoldError extends Error {
  override name = "ScaffoldError";
}

export interface AddOptions {
  /** Repository root. @default this repository */
  root?: string;
  /** Port the new subgraph listens on and is routed to. @default the lowest free one from 4001 */
  port?: number;
}

export interface Added {
  name: string;
  port: number;
  /** Created files, relative to the root. */
  files: string[];
  hints: string[];
}

const canListen = (port: number) =>
  new Promise<boolean>((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });

async function freePort(taken: ReadonlySet<number>): Promise<number> {
  for (let port = 4001; port < 5000; port++) {
    if (!taken.has(port) && !RESERVED_PORTS.has(port) && (await canListen(port))) return port;
  }
  throw new ScaffoldError("no free port from 4001 to 4999: pass --port");
}

/** Formats the new files with the project's own Biome settings, as `npm run format` would. */
function formatFiles(root: string, files: readonly string[]): void {
  const biome = [
    resolve(root, "node_modules/.bin/biome"),
    fileURLToPath(new URL("../node_modules/.bin/biome", import.meta.url)),
  ].find((bin) => existsSync(bin));
  if (!biome) return;
  const result = spawnSync(biome, ["check", "--write", ...files], { cwd: root, encoding: "utf8" });
  if (result.status !== 0)
    throw new ScaffoldError(`the new files do not pass Biome:\n${result.stdout}${result.stderr}`);
}

export async function addSubgraph(name: string, options: AddOptions = {}): Promise<Added> {
  const root = resolve(options.root ?? resolve(fileURLToPath(import.meta.url), "../.."));
  const configPath = resolve(root, "schema/supergraph.yaml");
  if (!NAME_PATTERN.test(name) || RESERVED_NAMES.has(name)) {
    throw new ScaffoldError(`"${name}" is not a subgraph name: lower-case letters, digits and dashes, e.g. reviews`);
  }
  const entries = readSupergraphEntries(configPath);
  if (entries.some((e) => e.name === name)) throw new ScaffoldError(`${name} is already in schema/supergraph.yaml`);
  if (existsSync(resolve(root, "subgraphs", name))) throw new ScaffoldError(`subgraphs/${name} already exists`);

  const taken = new Set(entries.map((e) => Number(new URL(e.routingUrl).port)).filter(Boolean));
  const port = options.port ?? (await freePort(taken));
  if (taken.has(port) || RESERVED_PORTS.has(port)) throw new ScaffoldError(`port ${port} is already used by the stack`);

  const files = scaffoldFiles(namesFor(name), port);
  for (const file of Object.keys(files)) {
    if (existsSync(resolve(root, file))) throw new ScaffoldError(`${file} already exists`);
  }
  const supergraphPath = resolve(root, "schema/supergraph.graphql");
  const originalConfig = readFileSync(configPath, "utf8");
  const originalSupergraph = existsSync(supergraphPath) ? readFileSync(supergraphPath, "utf8") : null;
  const rollback = () => {
    rmSync(resolve(root, "subgraphs", name), { recursive: true, force: true });
    for (const file of Object.keys(files)) rmSync(resolve(root, file), { force: true });
    writeFileSync(configPath, originalConfig);
    if (originalSupergraph !== null) writeFileSync(supergraphPath, originalSupergraph);
  };
  try {
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(dirname(resolve(root, file)), { recursive: true });
      writeFileSync(resolve(root, file), content);
    }
    // Editing the parsed document keeps the file's comments and layout.
    const config = parseDocument(originalConfig);
    config.setIn(["subgraphs", name], {
      routing_url: `http://127.0.0.1:${port}/graphql`,
      schema: { file: `../subgraphs/${name}/schema.graphql` },
    });
    writeFileSync(configPath, config.toString());
    formatFiles(root, Object.keys(files));
    const { hints } = await composeFile(configPath, supergraphPath);
    return { name, port, files: Object.keys(files), hints };
  } catch (error) {
    rollback();
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { port: { type: "string" }, root: { type: "string" } },
  });
  const [name] = positionals;
  if (!name || positionals.length > 1) {
    console.error("usage: npm run subgraph:add -- NAME [--port N]");
    return 2;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    console.error(`subgraph:add: --port must be a port from 1 to 65535, got "${values.port}"`);
    return 2;
  }
  try {
    const added = await addSubgraph(name, { root: values.root, port });
    const n = namesFor(name);
    console.log(
      [
        `subgraph ${name} added on port ${added.port}:`,
        ...added.files.map((f) => `  created ${f}`),
        "  listed in schema/supergraph.yaml; composed schema/supergraph.graphql",
        ...added.hints.map((h) => `  hint ${h}`),
        "",
        "Next:",
        `  node --import tsx --test test/integration/${name}.test.ts   (its own test; npm test runs it too)`,
        "  npm start                          (runs it; a running gateway has already taken the new supergraph)",
        `  query it: { ${n.many}(first: 5) { id title createdAt } }`,
        "  npm run schema:check               (what the change means for clients), then commit",
      ].join("\n"),
    );
    return 0;
  } catch (error) {
    if (error instanceof ScaffoldError || error instanceof CompositionError) {
      console.error(`subgraph:add: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
