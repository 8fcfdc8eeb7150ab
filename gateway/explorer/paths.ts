// Where the explorer's browser code lives: its sources and the bundle built from them.
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

// Compiled into dist/gateway/index.cjs, it still serves the sources and bundle kept beside the TypeScript.
const moduleDir = dirname(fileURLToPath(import.meta.url));
const dist = moduleDir.lastIndexOf(`${sep}dist${sep}gateway`);
const here = dist === -1 ? moduleDir : join(moduleDir.slice(0, dist), "gateway", "explorer");

/** Browser sources (bundled by scripts/build-explorer.ts, except the status page's plain script). */
export const CLIENT_DIR = join(here, "client");

/** Built by `npm run build:explorer` (run by `npm ci` through `prepare`); git-ignored. */
export const DEFAULT_BUNDLE_DIR = join(here, "bundle");

/** The entry the build writes last: present means the bundle is complete. */
export const BUNDLE_MANIFEST = "manifest.json";
