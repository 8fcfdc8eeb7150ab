import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The folders `npm run build` compiles to dist/. */
export const SOURCE_ROOTS = ["gateway", "subgraphs", "common", "sandbox"] as const;
/**
 * The processes `npm run build` bundles, as their TypeScript entries: the gateway, the payment
 * provider's sandbox and every subgraph (a folder under subgraphs/ with a schema.graphql and an
 * index.ts; kit/ and shared/ are libraries).
 */
export function entriesOf(root: string): string[] {
  const subgraphs = readdirSync(join(root, "subgraphs"), { withFileTypes: true })
    .filter((dir) => dir.isDirectory())
    .map((dir) => dir.name)
    .filter((name) => existsSync(join(root, "subgraphs", name, "schema.graphql")))
    .filter((name) => existsSync(join(root, "subgraphs", name, "index.ts")))
    .sort();
  return ["gateway/index.ts", "sandbox/index.ts", ...subgraphs.map((name) => `subgraphs/${name}/index.ts`)];
}

/** Written by `npm run build` when dist/ is complete. */
export const BUILD_STAMP = ".build-stamp";

/** Newest modification time of the TypeScript and schema files under the source roots. */
function newestSource(root: string): number {
  let newest = 0;
  for (const top of SOURCE_ROOTS) {
    const dir = join(root, top);
    if (!existsSync(dir)) continue;
    for (const path of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
      if (!/\.(ts|graphql)$/.test(path)) continue;
      newest = Math.max(newest, statSync(join(dir, path)).mtimeMs);
    }
  }
  return newest;
}

/**
 * How to run the project's processes: the compiled JavaScript in dist/ when it is complete and no
 * source changed since it was built (`npm ci` builds it), else the TypeScript through tsx, so an edit
 * is never run stale. Compiling at start costs about a third of a process's start-up.
 */
export function runtimeFor(root: string): { compiled: boolean; argsFor(entry: string): string[] } {
  const stamp = join(root, "dist", BUILD_STAMP);
  const compiled = existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(root);
  return {
    compiled,
    argsFor: (entry) =>
      compiled ? [join(root, "dist", entry.replace(/\.ts$/, ".js"))] : ["--import", "tsx", join(root, entry)],
  };
}
