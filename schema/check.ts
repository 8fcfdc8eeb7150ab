/**
 * `npm run schema:check`: composes the subgraphs of `schema/supergraph.yaml` (errors and hints),
 * then compares the API schema clients see — the committed supergraph's against the proposed one —
 * and classes every change breaking, dangerous or safe. A breaking change fails the check unless it
 * is acknowledged (`schema/acknowledged-changes.yaml` or `--allow-breaking`), or trusted documents
 * are given and none of them uses what changed.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Supergraph } from "@apollo/federation-internals";
import { type Change, CriticalityLevel, DiffRule, diff } from "@graphql-inspector/core";
import {
  type DocumentNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  Kind,
  parse,
  TypeInfo,
  typeFromAST,
  validate,
  visit,
  visitWithTypeInfo,
} from "graphql";
import { globSync } from "tinyglobby";
import { parse as parseYaml } from "yaml";
import { type Composition, CompositionError, compose, DEFAULT_CONFIG, loadSubgraphSources } from "./compose.ts";

export type Level = "breaking" | "dangerous" | "safe";

export interface ClassifiedChange {
  /** `TYPE:path`, e.g. `FIELD_REMOVED:Product.stock`: what an acknowledgement names. */
  id: string;
  level: Level;
  message: string;
  /** Schema coordinate of what changed, e.g. `Product.stock`. */
  path: string | null;
  /** Why a breaking change is accepted: its acknowledgement, `--allow-breaking`, or no trusted document uses it. */
  acceptedBecause: string | null;
}

/** A trusted document: an operation clients are known to send. */
export interface TrustedDocument {
  name: string;
  body: string;
}

export interface Acknowledgement {
  change: string;
  reason: string;
}

export interface CheckInput {
  /** The current supergraph SDL; null compares against nothing (every type is new). */
  baseSupergraph: string | null;
  /** The composition proposed, from the subgraphs as they are now. */
  proposed: Composition;
  /** @default [] */
  acknowledged?: readonly Acknowledgement[];
  /** Accept every breaking change. @default false */
  allowBreaking?: boolean;
  /** Operations clients send; when given, a breaking change none of them uses is accepted. @default null */
  documents?: readonly TrustedDocument[] | null;
}

export interface CheckResult {
  hints: string[];
  changes: ClassifiedChange[];
  /** Trusted documents that no longer validate against the proposed API schema. */
  brokenDocuments: { name: string; errors: string[] }[];
  /** Breaking changes nothing accepts: the check fails when there is any (or any broken document). */
  blocking: ClassifiedChange[];
  /** Acknowledgements that matched no change (already released, or mistyped). */
  unusedAcknowledgements: string[];
}

/** The schema clients see through the gateway: the supergraph without its federation machinery and @inaccessible parts. */
export function apiSchemaOf(supergraphSdl: string): GraphQLSchema {
  // The gateway enforces the security features itself; here only the shape of the schema matters.
  return Supergraph.build(supergraphSdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
}

const levels: Record<CriticalityLevel, Level> = {
  [CriticalityLevel.Breaking]: "breaking",
  [CriticalityLevel.Dangerous]: "dangerous",
  [CriticalityLevel.NonBreaking]: "safe",
};

const changeId = (change: Change): string => (change.path ? `${change.type}:${change.path}` : change.type);

/**
 * Every schema coordinate the documents touch: `Type`, `Type.field`, `Type.field.argument`, the
 * values of the enums and the fields of the input types they use.
 */
export function coordinatesUsed(schema: GraphQLSchema, documents: readonly DocumentNode[]): Set<string> {
  const used = new Set<string>();
  // A type an operation reads or sends brings along what it cannot see field by field: every
  // value of an enum, every field of an input object (a variable may fill any of them).
  const addType = (type: GraphQLNamedType) => {
    if (used.has(type.name)) return;
    used.add(type.name);
    if (isEnumType(type)) for (const value of type.getValues()) used.add(`${type.name}.${value.name}`);
    if (!isInputObjectType(type)) return;
    for (const field of Object.values(type.getFields())) {
      used.add(`${type.name}.${field.name}`);
      addType(getNamedType(field.type));
    }
  };
  for (const document of documents) {
    const typeInfo = new TypeInfo(schema);
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field() {
          const parent = typeInfo.getParentType();
          const field = typeInfo.getFieldDef();
          if (!parent || !field) return;
          used.add(parent.name);
          used.add(`${parent.name}.${field.name}`);
          addType(getNamedType(field.type));
        },
        Argument() {
          const parent = typeInfo.getParentType();
          const field = typeInfo.getFieldDef();
          const argument = typeInfo.getArgument();
          if (!parent || !field || !argument) return;
          used.add(`${parent.name}.${field.name}.${argument.name}`);
          addType(getNamedType(argument.type));
        },
        VariableDefinition(node) {
          const type = typeFromAST(schema, node.type as Parameters<typeof typeFromAST>[1]);
          if (type) addType(getNamedType(type));
        },
        [Kind.NAMED_TYPE](node) {
          const type = schema.getType(node.name.value);
          if (type) addType(type);
        },
      }),
    );
  }
  return used;
}

/**
 * True when a change at `path` can affect an operation touching `used`: the coordinate itself, the
 * field whose argument changed, or a type whose used fields go with it.
 */
function touches(path: string, used: ReadonlySet<string>): boolean {
  const parts = path.split(".");
  for (let i = 2; i <= parts.length; i++) if (used.has(parts.slice(0, i).join("."))) return true;
  if (used.has(path)) return true;
  for (const coordinate of used) if (coordinate.startsWith(`${path}.`)) return true;
  return false;
}

export async function checkSchema(input: CheckInput): Promise<CheckResult> {
  const proposedApi = apiSchemaOf(input.proposed.supergraphSdl);
  const baseApi = input.baseSupergraph ? apiSchemaOf(input.baseSupergraph) : null;
  const documents = input.documents ?? null;

  const parsed: { name: string; document: DocumentNode }[] = [];
  const brokenDocuments: CheckResult["brokenDocuments"] = [];
  for (const doc of documents ?? []) {
    let document: DocumentNode;
    try {
      document = parse(doc.body);
    } catch (error) {
      brokenDocuments.push({ name: doc.name, errors: [(error as Error).message] });
      continue;
    }
    parsed.push({ name: doc.name, document });
    const errors = validate(proposedApi, document);
    if (errors.length > 0) brokenDocuments.push({ name: doc.name, errors: errors.map((e) => e.message) });
  }
  // Usage is judged on the base schema: that is where the documents' coordinates are known to exist.
  const used =
    documents && baseApi
      ? coordinatesUsed(
          baseApi,
          parsed.map((p) => p.document),
        )
      : null;

  const raw = await diff(
    baseApi,
    proposedApi,
    used ? [DiffRule.considerUsage] : [],
    used
      ? {
          checkUsage: async (items) =>
            items.map((item) => {
              const path = [item.type, item.field, item.argument].filter(Boolean).join(".");
              return !touches(path, used);
            }),
        }
      : {},
  );

  const acknowledged = new Map((input.acknowledged ?? []).map((a) => [a.change, a.reason]));
  const matched = new Set<string>();
  const changes = raw.map((change): ClassifiedChange => {
    const id = changeId(change);
    const breaking = change.criticality.level === CriticalityLevel.Breaking;
    const unused = change.criticality.isSafeBasedOnUsage === true;
    let acceptedBecause: string | null = null;
    if (breaking || unused) {
      if (acknowledged.has(id)) {
        matched.add(id);
        acceptedBecause = `acknowledged: ${acknowledged.get(id)}`;
      } else if (unused) acceptedBecause = "no trusted document uses it";
      else if (input.allowBreaking) acceptedBecause = "--allow-breaking";
    }
    return {
      id,
      // A breaking change judged safe by usage is still reported as breaking, with the reason it passes.
      level: unused ? "breaking" : levels[change.criticality.level],
      message: change.message,
      path: change.path ?? null,
      acceptedBecause,
    };
  });
  return {
    hints: input.proposed.hints,
    changes,
    brokenDocuments,
    blocking: changes.filter((c) => c.level === "breaking" && c.acceptedBecause === null),
    unusedAcknowledgements: [...acknowledged.keys()].filter((id) => !matched.has(id)),
  };
}

/** Reads `schema/acknowledged-changes.yaml`: `acknowledged: [{ change: TYPE:path, reason }]`. */
export function readAcknowledgements(file: string): Acknowledgement[] {
  if (!existsSync(file)) return [];
  const parsed = parseYaml(readFileSync(file, "utf8")) as { acknowledged?: unknown } | null;
  const list = parsed?.acknowledged ?? [];
  if (!Array.isArray(list)) throw new Error(`${file}: "acknowledged" must be a list`);
  return list.map((item, i) => {
    const { change, reason } = (item ?? {}) as Record<string, unknown>;
    if (typeof change !== "string" || typeof reason !== "string" || reason.trim() === "") {
      throw new Error(`${file}: entry ${i + 1} needs "change" (TYPE:path) and a non-empty "reason"`);
    }
    return { change, reason };
  });
}

/** .graphql files matching the globs, and the operations of Apollo persisted-query manifests. */
export function readTrustedDocuments(globs: readonly string[], manifests: readonly string[]): TrustedDocument[] {
  const documents: TrustedDocument[] = [];
  for (const file of globSync([...globs], { onlyFiles: true }).sort()) {
    documents.push({ name: file, body: readFileSync(file, "utf8") });
  }
  for (const file of manifests) {
    const manifest = JSON.parse(readFileSync(file, "utf8")) as {
      operations?: { id?: string; name?: string; body?: string }[];
    };
    if (!Array.isArray(manifest.operations))
      throw new Error(`${file} is not a persisted query manifest (no "operations")`);
    for (const op of manifest.operations) {
      if (typeof op.body === "string") documents.push({ name: `${file}#${op.name ?? op.id}`, body: op.body });
    }
  }
  return documents;
}

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_ACKNOWLEDGEMENTS = resolve(here, "acknowledged-changes.yaml");

/** The supergraph as committed at HEAD (what clients have), else the file on disk when there is no git. */
function committedSupergraph(file: string): { sdl: string | null; from: string } {
  try {
    const root = execFileSync("git", ["rev-parse", "--show-toplevel"], { cwd: here, encoding: "utf8" }).trim();
    const path = relative(root, file);
    const sdl = execFileSync("git", ["show", `HEAD:${path}`], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return { sdl, from: `HEAD:${path}` };
  } catch {
    return existsSync(file) ? { sdl: readFileSync(file, "utf8"), from: file } : { sdl: null, from: "nothing" };
  }
}

const mark: Record<Level, string> = { breaking: "BREAKING ", dangerous: "DANGEROUS", safe: "safe     " };

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      base: { type: "string" },
      acknowledged: { type: "string" },
      "allow-breaking": { type: "boolean", default: false },
      documents: { type: "string", multiple: true },
      manifest: { type: "string", multiple: true },
    },
  });
  const configPath = resolve(values.config ?? DEFAULT_CONFIG);
  const base = values.base
    ? { sdl: readFileSync(values.base, "utf8"), from: values.base }
    : committedSupergraph(resolve(dirname(configPath), "supergraph.graphql"));

  let proposed: Composition;
  try {
    proposed = compose(await loadSubgraphSources(configPath));
  } catch (error) {
    if (!(error instanceof CompositionError)) throw error;
    console.error(`composition: ${error.message}`);
    return 1;
  }
  const documents =
    values.documents || values.manifest ? readTrustedDocuments(values.documents ?? [], values.manifest ?? []) : null;
  const result = await checkSchema({
    baseSupergraph: base.sdl,
    proposed,
    acknowledged: readAcknowledgements(values.acknowledged ?? DEFAULT_ACKNOWLEDGEMENTS),
    allowBreaking: values["allow-breaking"],
    documents,
  });

  console.log(`composition: ok, ${result.hints.length} hint(s)`);
  for (const hint of result.hints) console.log(`  hint ${hint}`);
  const count = (level: Level) => result.changes.filter((c) => c.level === level).length;
  console.log(
    `changes against ${base.from}: ${count("breaking")} breaking, ${count("dangerous")} dangerous, ${count("safe")} safe` +
      (documents ? ` (${documents.length} trusted document(s))` : ""),
  );
  for (const change of result.changes) {
    const accepted = change.acceptedBecause ? `  [accepted: ${change.acceptedBecause}]` : "";
    console.log(`  ${mark[change.level]} ${change.id}  ${change.message}${accepted}`);
  }
  for (const id of result.unusedAcknowledgements) console.log(`  note: acknowledgement "${id}" matches no change`);
  for (const doc of result.brokenDocuments) {
    console.error(`trusted document ${doc.name} breaks:\n${doc.errors.map((e) => `  ${e}`).join("\n")}`);
  }
  if (result.blocking.length > 0) {
    console.error(
      `schema:check: ${result.blocking.length} unacknowledged breaking change(s): ${result.blocking
        .map((c) => c.path ?? c.id)
        .join(", ")}\n` +
        `  acknowledge each in ${relative(process.cwd(), values.acknowledged ?? DEFAULT_ACKNOWLEDGEMENTS)}` +
        ` (change: ${result.blocking[0]!.id}, reason: …) or run with --allow-breaking`,
    );
  }
  return result.blocking.length > 0 || result.brokenDocuments.length > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    console.error(`schema:check: ${(error as Error).message}`);
    process.exitCode = 2;
  }
}
