// Builds the GraphQL explorer's browser bundle (GraphiQL and Monaco's workers) from node_modules.
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";
import { BUNDLE_MANIFEST, CLIENT_DIR, DEFAULT_BUNDLE_DIR } from "../gateway/explorer/paths.ts";

const require = createRequire(import.meta.url);

/** Monaco's workers, each bundled on its own so the browser loads them from the gateway. */
const WORKERS = {
  "editor.worker": "monaco-editor/esm/vs/editor/editor.worker.js",
  "json.worker": "monaco-editor/esm/vs/language/json/json.worker.js",
  "graphql.worker": "monaco-graphql/esm/graphql.worker.js",
} as const;

async function main(): Promise<void> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
    require.resolve("graphiql");
  } catch {
    // An install without development dependencies serves no explorer: nothing to build.
    console.log("build:explorer: esbuild or graphiql not installed (production install); explorer not built");
    return;
  }
  const outdir = process.env.EXPLORER_BUNDLE_DIR ?? DEFAULT_BUNDLE_DIR;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const common = {
    bundle: true,
    minify: true,
    sourcemap: false,
    target: "es2022",
    legalComments: "external",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  } as const;
  await esbuild.build({
    ...common,
    entryPoints: { graphiql: join(CLIENT_DIR, "graphiql.js") },
    outdir,
    format: "esm",
    loader: { ".ttf": "file", ".woff": "file", ".woff2": "file", ".svg": "dataurl", ".png": "dataurl" },
    assetNames: "[name]-[hash]",
  });
  await esbuild.build({
    ...common,
    entryPoints: Object.fromEntries(Object.entries(WORKERS).map(([name, path]) => [name, require.resolve(path)])),
    outdir,
    format: "iife",
  });
  const files: Record<string, { bytes: number; brotli: number }> = {};
  for (const name of ["graphiql.js", "graphiql.css", ...Object.keys(WORKERS).map((w) => `${w}.js`)]) {
    const path = join(outdir, name);
    // Served as is to browsers that take Brotli: 6.8 MiB of scripts is a lot to send each time.
    const compressed = brotliCompressSync(await readFile(path), {
      params: { [constants.BROTLI_PARAM_QUALITY]: 6, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT },
    });
    await writeFile(`${path}.br`, compressed);
    files[name] = { bytes: (await stat(path)).size, brotli: compressed.length };
  }
  // Written last: the gateway serves the explorer only when the whole bundle is there.
  await writeFile(
    join(outdir, BUNDLE_MANIFEST),
    `${JSON.stringify({ builtAt: new Date().toISOString(), files }, null, 2)}\n`,
  );
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`.padStart(9);
  const total = Object.values(files).reduce((a, b) => ({ bytes: a.bytes + b.bytes, brotli: a.brotli + b.brotli }));
  console.log(`build:explorer: ${outdir}`);
  for (const [name, size] of [...Object.entries(files), ["total", total] as const]) {
    console.log(`  ${name.padEnd(20)} ${kib(size.bytes)} ${kib(size.brotli)} brotli`);
  }
}

await main();
