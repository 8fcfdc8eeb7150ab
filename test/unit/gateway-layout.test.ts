import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const GATEWAY = resolve(dirname(fileURLToPath(import.meta.url)), "../../gateway");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Every relative import of every gateway module (type-only imports and re-exports included), as paths from gateway/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(GATEWAY)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith("."))
      .map((name) =>
        relative(GATEWAY, resolve(dirname(file), name))
          .split(sep)
          .join("/"),
      );
    graph.set(relative(GATEWAY, file).split(sep).join("/"), targets);
  }
  return graph;
}

/** The import cycles of a graph, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "active");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "active") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

const folderOf = (path: string) => (path.includes("/") ? path.slice(0, path.indexOf("/")) : null);

test("the cycle finder finds a cycle", () => {
  const graph = new Map([
    ["a.ts", ["b/index.ts"]],
    ["b/index.ts", ["b/c.ts"]],
    ["b/c.ts", ["a.ts"]],
  ]);
  assert.deepEqual(cycles(graph), [["a.ts", "b/index.ts", "b/c.ts", "a.ts"]]);
});

test("gateway modules import each other without a cycle", () => {
  const graph = importGraph();
  assert.ok(graph.size > 30, "the gateway's modules were read");
  assert.deepEqual(cycles(graph), []);
});

test("only the entry point imports the composition root", () => {
  for (const [from, targets] of importGraph()) {
    if (from === "index.ts") continue;
    assert.ok(!targets.includes("gateway.ts"), `${from} imports gateway.ts`);
  }
});

test("a folder is imported only through its entry, which says what the folder owns", () => {
  const graph = importGraph();
  const folders = new Set([...graph.keys()].map(folderOf).filter((f) => f !== null));
  assert.ok(folders.size >= 6, `folders: ${[...folders].join(", ")}`);
  for (const folder of folders) {
    const entry = `${folder}/index.ts`;
    assert.ok(graph.has(entry), `${folder}/ has an index.ts`);
    const firstLine = readFileSync(join(GATEWAY, entry), "utf8").split("\n", 1)[0]!;
    assert.match(firstLine, /^\/\/ \S.{20,}$/, `${entry} opens with one line saying what ${folder}/ owns`);
  }
  for (const [from, targets] of graph) {
    for (const target of targets) {
      if (target.startsWith("../")) {
        // Outside its own tree the gateway reads only what it shares with the services, never a subgraph.
        assert.equal(target, "../common/index.ts", `${from} imports ${target}`);
        continue;
      }
      const folder = folderOf(target);
      if (folder === null || folder === folderOf(from)) continue;
      assert.equal(target, `${folder}/index.ts`, `${from} reaches into ${folder}/`);
    }
  }
});
