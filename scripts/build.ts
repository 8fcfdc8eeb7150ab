import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { CODE_CACHE_EXTENSION, defaultCodeCacheDir } from "../common/code-cache.ts";
import { generateIdentityKeyPair } from "../common/identity-keys.ts";
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
// --out DIR: another folder than dist/ (a test builds its own). It is emptied first.
// --cold: no code cache is made (each process makes its own once it serves).
const { values: flags } = parseArgs({ options: { out: { type: "string" }, cold: { type: "boolean" } } });
const out = resolve(flags.out ?? join(root, "dist"));
if (!relative(out, root).startsWith("..") && out !== join(root, "dist")) {
  throw new Error(`build: --out ${out} holds the project; give an empty or new folder`);
}

/** Files that are not TypeScript but are loaded next to the module that reads them. */
const ASSET = /\.(graphql|json|sql)$/;

/**
 * Loaded from node_modules at run time, never bundled: the native addon. So are the libraries only
 * some deployments load (node-postgres, ioredis, the OpenTelemetry SDK): common/optional-modules.ts
 * requires them through createRequire, which the bundler leaves alone.
 */
const EXTERNAL = ["better-sqlite3", "pg-native"];

/** Modules that must not end up in a bundle: sha.js is what @apollo/utils.createhash falls back to. */
const FORBIDDEN = /node_modules\/sha\.js\//;

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
  const built = await build({
    entryPoints: [join(root, entry)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Whitespace and syntax only: names stay as written, so stack traces and CPU profiles read as the
    // sources do. (Renamed identifiers with esbuild's keepNames cost ~10% more CPU per federated
    // request: every function the gateway creates per request went through a naming call.)
    minifyWhitespace: true,
    minifySyntax: true,
    // ASCII only (see below), so the launcher decodes it as latin1, four times as fast as UTF-8.
    charset: "ascii",
    legalComments: "none",
    sourcemap: "linked",
    sourcesContent: false,
    external: EXTERNAL,
    alias: { "@apollo/utils.createhash": join(root, "scripts/lib/bundle-shims/apollo-createhash.ts") },
    metafile: true,
    write: false,
    // A module's own URL: in the bundle, the bundle's (files read beside it are copied beside it).
    define: { "import.meta.url": "__bundle_url" },
    banner: { js: `var __bundle_url=require("node:url").pathToFileURL(__filename).href;` },
    logLevel: "warning",
  });
  const slow = Object.keys(built.metafile.inputs).filter((input) => FORBIDDEN.test(input));
  if (slow.length > 0) throw new Error(`build: ${entry} would bundle ${slow.join(", ")}`);
  mkdirSync(dirname(bundle), { recursive: true });
  for (const file of built.outputFiles) {
    // esbuild leaves non-ASCII characters in regular expression literals (two in graphql-tools); an
    // escape means the same there and in strings, and keeps the file ASCII, which loads fastest.
    const text = file.path === bundle ? file.text.replace(/[^ -~\t\n\r]/g, unicodeEscape) : file.text;
    writeFileSync(file.path, text);
  }

  await build({
    stdin: {
      contents: `${PREAMBLE[entry] ?? ""}
import { runBundle } from ${JSON.stringify(join(root, "common/code-cache.ts"))};
import { fileURLToPath } from "node:url";
runBundle(fileURLToPath(new URL(${JSON.stringify(`./${basename(bundle)}`)}, import.meta.url)));
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
if (!flags.cold) await warm(entries);

// Written last: sources changed after this make `npm start` run the TypeScript again (scripts/lib/entry.ts).
writeFileSync(join(out, BUILD_STAMP), `${new Date().toISOString()}\n`);
console.log(
  `build: ${entries.length} entries bundled into ${relative(root, out) || out} (${entries.join(", ")}), ${copied} asset file(s) copied`,
);

function unicodeEscape(character: string): string {
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * Starts every built process once, on port 0 with throw-away data, until it has written its code
 * cache (it does once it serves), so that even the first start after `npm ci` compiles from one;
 * a container image built this way carries them. The gateway starts in production mode, as it runs
 * there. A process that cannot start here only costs its cache: the build says so and goes on.
 */
async function warm(entries: readonly string[]): Promise<void> {
  const data = mkdtempSync(join(tmpdir(), "build-warm-"));
  const common = { HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", DATA_DIR: data, NODE_ENV: "development" };
  const envs: Record<string, Record<string, string>> = {
    "gateway/index.ts": {
      NODE_ENV: "production",
      GATEWAY_WORKERS: "1",
      IDENTITY_PRIVATE_KEY: generateIdentityKeyPair().privateKey,
      SUPERGRAPH_PATH: join(root, "schema/supergraph.graphql"),
    },
  };
  const started = Date.now();
  const results = await Promise.all(
    entries.map(async (entry) => {
      const launcher = join(out, entry.replace(/\.ts$/, ".js"));
      const cacheDir = defaultCodeCacheDir(join(out, entry.replace(/\.ts$/, ".cjs")));
      const cached = () =>
        existsSync(cacheDir) && readdirSync(cacheDir).some((name) => name.endsWith(CODE_CACHE_EXTENSION));
      // Not the caller's environment: a DATABASE_URL, REDIS_URL or OTLP endpoint there is not for this.
      const env = { PATH: process.env.PATH, ...common, ...envs[entry], CODE_CACHE_DIR: cacheDir };
      const child = spawn(process.execPath, [launcher], { cwd: root, env, stdio: ["ignore", "ignore", "pipe"] });
      let errors = "";
      child.stderr.on("data", (chunk) => {
        errors += chunk;
      });
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      const deadline = Date.now() + 60_000;
      while (child.exitCode === null && Date.now() < deadline && !cached()) {
        await new Promise((done) => setTimeout(done, 50));
      }
      const made = cached();
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      if (!made) console.warn(`build: no code cache for ${entry}; its first start compiles it.\n${errors.trim()}`);
      return made;
    }),
  );
  rmSync(data, { recursive: true, force: true });
  console.log(
    `build: code cache made for ${results.filter(Boolean).length} of ${entries.length} entries (${Date.now() - started} ms)`,
  );
}
