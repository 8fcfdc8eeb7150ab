import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `npm run build`: compiles gateway/ and subgraphs/ to dist/ and copies beside the compiled modules the
 * files they read at run time relative to themselves (each subgraph's schema.graphql), so
 * `node dist/<path>/index.js` runs from the repository root exactly as the TypeScript does.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist");

import { BUILD_STAMP, SOURCE_ROOTS } from "./lib/entry.ts";

const sourceRoots = SOURCE_ROOTS;
/** Files that are not TypeScript but are loaded next to the module that reads them. */
const ASSET = /\.(graphql|json|sql)$/;

rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")],
  {
    stdio: "inherit",
  },
);

let copied = 0;
for (const top of sourceRoots) {
  const from = join(root, top);
  if (!existsSync(from)) continue;
  for (const path of readdirSync(from, { recursive: true, encoding: "utf8" })) {
    const source = join(from, path);
    if (!ASSET.test(path) || !statSync(source).isFile()) continue;
    cpSync(source, join(out, relative(root, source)));
    copied++;
  }
}
// Written last: sources changed after this make `npm start` run the TypeScript again (scripts/lib/entry.ts).
writeFileSync(join(out, BUILD_STAMP), `${new Date().toISOString()}\n`);
console.log(`build: dist/ written, ${copied} asset file(s) copied`);
