/**
 * Where a process spent its CPU: aggregates a V8 `.cpuprofile` (from `node --cpu-prof`) by function
 * and by package or source file, as self time (the frame on top of the stack) and inclusive time
 * (the frame anywhere on the stack, counted once per sample), in percent of the busy samples.
 *
 *   node --import tsx bench/profile-summary.ts PROFILE.cpuprofile|DIR [--op NAME] [--top 15]
 *
 * Given the directory of a `BENCH_PROFILE=DIR npm run bench` run, it reads `gateway.cpuprofile`
 * and `windows.json` there and summarises each operation over its measured rounds only, so that
 * start-up and the other targets' rounds (idle time for the gateway) are left out. Positions in the
 * project's TypeScript are mapped back to source lines.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { transformSync } from "esbuild";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A stretch of a run, in milliseconds from the profiled process's start. */
export interface ProfileWindow {
  op: string;
  startMs: number;
  endMs: number;
}

export interface Entry {
  name: string;
  self: number;
  inclusive: number;
}

export interface Summary {
  /** Samples with the process at work (not idle), and what they add up to. */
  busySamples: number;
  busyMs: number;
  idleSamples: number;
  functions: Entry[];
  modules: Entry[];
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Stack frames that are not code: kept as they are (the runtime, the collector), or skipped (idle, root). */
const IDLE = "(idle)";
const ROOT_FRAME = "(root)";
/** Windows are narrowed at both ends: the profile clock starts a little after the process is spawned. */
const WINDOW_MARGIN_MS = 100;

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
}

function location(url: string): string {
  if (url === "") return "";
  if (url.startsWith("node:")) return url;
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const at = path.lastIndexOf("/node_modules/");
  if (at >= 0) return path.slice(at + "/node_modules/".length);
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

/** The package a frame belongs to, the project file, a Node.js subsystem, or the engine itself. */
function moduleOf(compiled: CallFrame): string {
  const { url, functionName } = unbundled(compiled);
  if (url === "") return functionName.startsWith("(") ? functionName : "(V8 builtins and native)";
  if (url.startsWith("node:")) {
    return `node:${url.replace(/^node:(internal\/)?/, "").split("/")[0]}`;
  }
  const path = location(url);
  if (url.includes("/node_modules/")) {
    const parts = path.split("/");
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  return path;
}

const compiledMaps = new Map<string, SourceMap | null>();

/**
 * tsx compiles each TypeScript file with esbuild (these options) before V8 sees it, so a profile's
 * positions in a `.ts` file are in that compiled code; compiling the file again the same way gives
 * the source map back. Null when the file is gone or does not compile.
 */
function compiledMapOf(path: string): SourceMap | null {
  if (!compiledMaps.has(path)) {
    let map: SourceMap | null = null;
    try {
      const out = transformSync(readFileSync(path, "utf8"), {
        target: `node${process.versions.node}`,
        loader: "ts",
        format: "esm",
        sourcefile: path,
        sourcemap: true,
        minifyWhitespace: true,
        keepNames: true,
      });
      map = new SourceMap(JSON.parse(out.map));
    } catch {
      map = null;
    }
    compiledMaps.set(path, map);
  }
  return compiledMaps.get(path)!;
}

const bundleMaps = new Map<string, { map: SourceMap; dir: string } | null>();
const bundleFrames = new Map<string, CallFrame>();

/**
 * A frame in a built bundle (`dist/<entry>.cjs`, one minified file) as the frame of the module it
 * came from, through the bundle's source map: so packages and project files are told apart as they
 * are when the sources run. Other frames, and positions the map does not cover, are kept.
 */
function unbundled(frame: CallFrame): CallFrame {
  if (!frame.url.startsWith("file://") || !frame.url.endsWith(".cjs")) return frame;
  const path = fileURLToPath(frame.url);
  if (!bundleMaps.has(path)) {
    let found: { map: SourceMap; dir: string } | null = null;
    try {
      found = { map: new SourceMap(JSON.parse(readFileSync(`${path}.map`, "utf8"))), dir: dirname(path) };
    } catch {
      found = null;
    }
    bundleMaps.set(path, found);
  }
  const bundle = bundleMaps.get(path);
  if (!bundle) return frame;
  const key = `${path}:${frame.lineNumber}:${frame.columnNumber}:${frame.functionName}`;
  let mapped = bundleFrames.get(key);
  if (!mapped) {
    const entry = bundle.map.findEntry(frame.lineNumber, frame.columnNumber);
    mapped =
      entry && "originalSource" in entry && entry.originalSource
        ? {
            functionName: frame.functionName,
            url: pathToFileURL(resolve(bundle.dir, entry.originalSource.replace(/^file:\/\//, ""))).href,
            lineNumber: entry.originalLine,
            columnNumber: entry.originalColumn,
          }
        : frame;
    bundleFrames.set(key, mapped);
  }
  return mapped;
}

/**
 * A function by name and place. For the project's TypeScript the place is mapped back to the source
 * line (as the file is now: summarise a profile before editing what it measured); when that fails
 * it stays `line:column` of the compiled code, marked "compiled".
 */
function functionOf(compiled: CallFrame): string {
  const frame = unbundled(compiled);
  const name = frame.functionName || "(anonymous)";
  const where = location(frame.url);
  if (!where) return name;
  if (frame !== compiled && frame.url.endsWith(".ts")) return `${name} ${where}:${frame.lineNumber + 1}`;
  if (frame.url.startsWith("file://") && frame.url.endsWith(".ts")) {
    const entry = compiledMapOf(fileURLToPath(frame.url))?.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry && "originalLine" in entry) return `${name} ${where}:${entry.originalLine + 1}`;
    return `${name} ${where}:${frame.lineNumber + 1}:${frame.columnNumber + 1} (compiled)`;
  }
  return `${name} ${where}:${frame.lineNumber + 1}${frame.lineNumber === 0 ? `:${frame.columnNumber + 1}` : ""}`;
}

/** The project's own source files (not packages, not Node.js, not the engine). */
const isProjectFile = (name: string) =>
  !name.startsWith("(") && !name.startsWith("node:") && /\.[cm]?[jt]s$/.test(name) && !name.includes("/dist/");

/** Aggregates the samples inside `windows` (all samples when none are given). */
export function summarise(profile: CpuProfile, options: { windows?: ProfileWindow[] } = {}): Summary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const windows = options.windows?.map((w) => [w.startMs + WINDOW_MARGIN_MS, w.endMs - WINDOW_MARGIN_MS] as const);

  const functionSelf = new Map<string, number>();
  const functionInclusive = new Map<string, number>();
  const moduleSelf = new Map<string, number>();
  const moduleInclusive = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string, by = 1) => map.set(key, (map.get(key) ?? 0) + by);
  let busySamples = 0;
  let busyUs = 0;
  let idleSamples = 0;
  let time = profile.startTime;

  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    time += delta;
    const atMs = (time - profile.startTime) / 1000;
    if (windows && !windows.some(([from, to]) => atMs >= from && atMs <= to)) continue;
    const top = byId.get(profile.samples[i]!)!;
    if (top.callFrame.functionName === IDLE) {
      idleSamples++;
      continue;
    }
    busySamples++;
    busyUs += delta;
    bump(functionSelf, functionOf(top.callFrame));
    bump(moduleSelf, moduleOf(top.callFrame));
    const functions = new Set<string>();
    const modules = new Set<string>();
    for (let id: number | undefined = top.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (frame.functionName === ROOT_FRAME) continue;
      functions.add(functionOf(frame));
      modules.add(moduleOf(frame));
    }
    for (const name of functions) bump(functionInclusive, name);
    for (const name of modules) bump(moduleInclusive, name);
  }

  const entries = (self: Map<string, number>, inclusive: Map<string, number>): Entry[] =>
    [...inclusive.keys()].map((name) => ({ name, self: self.get(name) ?? 0, inclusive: inclusive.get(name)! }));
  return {
    busySamples,
    busyMs: busyUs / 1000,
    idleSamples,
    functions: entries(functionSelf, functionInclusive),
    modules: entries(moduleSelf, moduleInclusive),
  };
}

/** Markdown tables: the top functions and modules by self time and by inclusive time. */
export function formatSummary(summary: Summary, top = 15): string {
  const pct = (n: number) => `${((100 * n) / Math.max(1, summary.busySamples)).toFixed(1)}%`;
  const table = (title: string, list: Entry[], key: "self" | "inclusive") => {
    const rows = [...list]
      .sort((a, b) => b[key] - a[key])
      .slice(0, top)
      .map((e) => `| ${e.name.replaceAll("|", "\\|")} | ${pct(e.self)} | ${pct(e.inclusive)} |`);
    return [`**${title}**`, "", "| | self | inclusive |", "|---|---:|---:|", ...rows, ""].join("\n");
  };
  const idle = (100 * summary.idleSamples) / Math.max(1, summary.busySamples + summary.idleSamples);
  return [
    `${summary.busySamples} busy samples (${summary.busyMs.toFixed(0)} ms of CPU), idle ${idle.toFixed(0)}% of the window; percentages of busy samples.`,
    "",
    table("Functions by self time", summary.functions, "self"),
    table("Functions by inclusive time", summary.functions, "inclusive"),
    table("Packages and files by self time", summary.modules, "self"),
    table("Packages and files by inclusive time", summary.modules, "inclusive"),
    table(
      "The project's own files by inclusive time",
      summary.modules.filter((e) => isProjectFile(e.name)),
      "inclusive",
    ),
  ].join("\n");
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { op: { type: "string" }, top: { type: "string", default: "15" } },
  });
  const target = positionals[0];
  if (!target) {
    console.error("usage: profile-summary.ts PROFILE.cpuprofile|DIR [--op NAME] [--top 15]");
    process.exit(2);
  }
  const top = Number(values.top);
  const isDir = statSync(target).isDirectory();
  const profile = readProfile(isDir ? join(target, "gateway.cpuprofile") : target);
  const windowsPath = isDir ? join(target, "windows.json") : null;
  if (!windowsPath || !existsSync(windowsPath)) {
    console.log(formatSummary(summarise(profile), top));
    return;
  }
  const windows = JSON.parse(readFileSync(windowsPath, "utf8")) as ProfileWindow[];
  const ops = values.op ? [values.op] : [...new Set(windows.map((w) => w.op))];
  for (const op of ops) {
    console.log(`## ${op}\n`);
    console.log(formatSummary(summarise(profile, { windows: windows.filter((w) => w.op === op) }), top));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
