// Runs a process's compiled bundle with V8's code cache, so a start after the first one skips most of
// the parsing and compiling that dominates start-up. Imported by the launchers `npm run build` writes
// (dist/<entry>.js); the services themselves only call flushCodeCache() once they serve.
import { isAscii } from "node:buffer";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { Script, constants as vm } from "node:vm";

/** How the code inside the bundle reaches its launcher (another copy of this module). */
const LAUNCHER = Symbol.for("shop.code-cache");

interface Launcher {
  readonly state: CodeCacheState;
  flush(): void;
}

/** Where a bundle's cache is kept unless CODE_CACHE_DIR says otherwise: beside the bundle. */
export function defaultCodeCacheDir(bundlePath: string): string {
  return join(dirname(bundlePath), ".code-cache");
}

/** A cache file's extension, after its bundle name, SHA-256, Node.js version and architecture. */
export const CODE_CACHE_EXTENSION = ".v8";

export interface RunBundleOptions {
  /**
   * Folder of the cached code, or `off`. A cache is used only for the exact bundle (its SHA-256) and
   * Node.js version it was made by, and V8 refuses one made with other flags. What is in it runs as
   * the process's code: a folder only the service's own user can write (never a shared /tmp).
   * @default CODE_CACHE_DIR, else `.code-cache` in the bundle's folder
   */
  cacheDir?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** What happened to the cache of a bundle this process runs (for tests and diagnostics). */
export interface CodeCacheState {
  /** The cache file, or null when caching is off. */
  readonly file: string | null;
  /** A cache was found and V8 took it. */
  readonly used: boolean;
  /** flushCodeCache() wrote a new cache. */
  written: boolean;
  /** flushCodeCache() tried to write one (once per process). */
  flushed: boolean;
}

/**
 * Loads and runs a CommonJS bundle as Node.js would run it with `require`, compiled from its cached
 * code when there is a usable cache. A process that ran without one writes it when it calls
 * flushCodeCache(), i.e. once it is up, so the cache holds the functions start-up compiled too.
 * The cache is written beside the code only where that folder is writable (never required).
 */
export function runBundle(bundlePath: string, options: RunBundleOptions = {}): CodeCacheState {
  const env = options.env ?? process.env;
  const bytes = readFileSync(bundlePath);
  const configured = options.cacheDir ?? env.CODE_CACHE_DIR ?? defaultCodeCacheDir(bundlePath);
  const dir = configured === "off" || configured === "" ? null : configured;
  // Named by folder too (gateway-index, users-index): CODE_CACHE_DIR may hold every service's.
  const name = `${basename(dirname(bundlePath))}-${basename(bundlePath).replace(/\.[cm]?js$/, "")}`;
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 20);
  const suffix = `-${process.version}-${process.arch}${CODE_CACHE_EXTENSION}`;
  const file = dir && join(dir, `${name}-${hash}${suffix}`);

  let cachedData: Buffer | undefined;
  if (file) {
    try {
      cachedData = readFileSync(file);
    } catch {
      // none yet
    }
  }
  // The build writes ASCII only, which latin1 decodes exactly and four times as fast as UTF-8.
  const script = new Script(Module.wrap(bytes.toString(isAscii(bytes) ? "latin1" : "utf8")), {
    filename: bundlePath,
    cachedData,
    importModuleDynamically: vm?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const state: CodeCacheState = {
    file,
    used: cachedData !== undefined && !script.cachedDataRejected,
    written: false,
    flushed: false,
  };

  const flush = () => {
    if (!file || state.used || state.flushed) return;
    state.flushed = true;
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(temporary, script.createCachedData());
      // Atomic: another process of the same bundle (a cluster worker) may be reading or writing it.
      renameSync(temporary, file);
      state.written = true;
      // Caches of earlier builds of this bundle on this Node.js (other versions' are theirs to keep).
      for (const other of readdirSync(dirname(file))) {
        if (other.startsWith(`${name}-`) && other.endsWith(suffix) && other !== basename(file)) {
          rmSync(join(dirname(file), other), { force: true });
        }
      }
    } catch {
      // A read-only install (a container image): start-up is as without a cache, nothing else changes.
      removeQuietly(temporary);
    }
  };
  (globalThis as Record<symbol, Launcher>)[LAUNCHER] = { state, flush };

  const module = new Module(bundlePath);
  module.filename = bundlePath;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(bundlePath), module, bundlePath, dirname(bundlePath));
  return state;
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // its folder is not there or not writable: neither is the file
  }
}

/**
 * Called by a process once it serves: when it runs from a bundle that had no usable code cache, the
 * cache is written now, holding what start-up compiled. Otherwise (the TypeScript, or a cache that
 * was used) it does nothing. The write happens after the current I/O, off the start-up path.
 */
export function flushCodeCache(): void {
  const launcher = (globalThis as Record<symbol, Launcher | undefined>)[LAUNCHER];
  if (launcher) setImmediate(launcher.flush).unref();
}

/**
 * How this process was compiled, for its start-up log: `hit` from a code cache, `miss` without one
 * (it writes one once it serves), `off` (CODE_CACHE_DIR=off), or null when it runs the TypeScript.
 */
export function codeCacheStatus(): "hit" | "miss" | "off" | null {
  const launcher = (globalThis as Record<symbol, Launcher | undefined>)[LAUNCHER];
  if (!launcher) return null;
  return launcher.state.file === null ? "off" : launcher.state.used ? "hit" : "miss";
}
