import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { BUILD_STAMP, entriesOf, SOURCE_ROOTS } from "./lib/entry.ts";

/**
 * `npm run build` (run by `npm ci` through `prepare`): every process's entry — the gateway, each
 * subgraph, the payment-provider sandbox — becomes one minified CommonJS bundle, `dist/<entry>.cjs`,
 * with its launcher `dist/<entry>.js` (what `node dist/gateway/index.js` runs), which compiles the
 * bundle from V8's code cache when there is one (common/code-cache.ts). One file instead of about
 * two thousand modules spares resolving, reading and wrapping each; the code cache spares compiling.
 * Files read at run time relative to the code (each subgraph's schema.graphql) are copied beside it.
 * Types are checked by `npm run check`, not here.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist");

/** Files that are not TypeScript but are loaded next to the module that reads them. */
const ASSET = /\.(graphql|json|sql)$/;

/**
 * Loaded from node_modules at run time, never bundled: a native addon, and the libraries only some
 * deployments load (common/optional-modules.ts requires them by name when configured).
 */
const EXTERNAL = [
  "better-sqlite3",
  "pg",
  "pg-native",
  "ioredis",
  "@opentelemetry/context-async-hooks",
  "@opentelemetry/core",
  "@opentelemetry/exporter-trace-otlp-http",
  "@opentelemetry/resources",
  "@opentelemetry/sdk-trace-base",
];

/**
 * Run by an entry's launcher before the bundle is compiled. The gateway sets its heap growth flag
 * here, because V8 takes a code cache only under the flags it was made with.
 */
const PREAMBLE: Record<string, string> = {
  "gateway/index.ts": `import { applyHeapGrowth, heapGrowthPercentOf } from ${JSON.stringify(join(root, "gateway/heap.ts"))};
applyHeapGrowth(heapGrowthPercentOf(process.env));`,
};

rmSync(out, { recursive: true, force: true });

const entries = entriesOf(root);
for (const entry of entries) {
  const bundle = join(out, entry.replace(/\.ts$/, ".cjs"));
  await build({
    entryPoints: [join(root, entry)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Function and class names survive minifying: stack traces and CPU profiles stay readable.
    minify: true,
    keepNames: true,
    // ASCII only (see below), so the launcher decodes it as latin1, four times as fast as UTF-8.
    charset: "ascii",
    legalComments: "none",
    sourcemap: "linked",
    sourcesContent: false,
    external: EXTERNAL,
    // A module's own URL: in the bundle, the bundle's (files read beside it are copied beside it).
    define: { "import.meta.url": "__bundle_url" },
    banner: { js: `var __bundle_url=require("node:url").pathToFileURL(__filename).href;` },
    logLevel: "warning",
  });
  // esbuild leaves non-ASCII characters in regular expression literals (two in graphql-tools); an
  // escape means the same there and in strings, and keeps the file ASCII, which loads fastest.
  const code = readFileSync(bundle, "utf8");
  const ascii = code.replace(/[^ -~\t\n\r]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  if (ascii !== code) writeFileSync(bundle, ascii);

  await build({
    stdin: {
      contents: `${PREAMBLE[entry] ?? ""}
import { runBundle } from ${JSON.stringify(join(root, "common/code-cache.ts"))};
import { fileURLToPath } from "node:url";
runBundle(fileURLToPath(new URL(${JSON.stringify(`./${entry.split("/").at(-1)!.replace(/\.ts$/, ".cjs")}`)}, import.meta.url)));
`,
      resolveDir: root,
      sourcefile: `${entry} (launcher)`,
      loader: "ts",
    },
    outfile: join(out, entry.replace(/\.ts$/, ".js")),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    logLevel: "warning",
  });
}

let copied = 0;
for (const top of SOURCE_ROOTS) {
  const from = join(root, top);
  if (!existsSync(from)) continue;
  for (const path of readdirSync(from, { recursive: true, encoding: "utf8" })) {
    const source = join(from, path);
    if (!ASSET.test(path) || path.includes("explorer/bundle") || !statSync(source).isFile()) continue;
    cpSync(source, join(out, relative(root, source)));
    copied++;
  }
}
// Written last: sources changed after this make `npm start` run the TypeScript again (scripts/lib/entry.ts).
writeFileSync(join(out, BUILD_STAMP), `${new Date().toISOString()}\n`);
console.log(
  `build: ${entries.length} entries bundled into dist/ (${entries.join(", ")}), ${copied} asset file(s) copied`,
);
