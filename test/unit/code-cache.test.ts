import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import { codeCacheStatus, flushCodeCache, runBundle } from "../../common/code-cache.ts";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "code-cache-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A CommonJS bundle that reports, through a global, what Node.js gave it. */
function writeBundle(name: string, answer: number): string {
  const folder = join(dir, name);
  rmSync(folder, { recursive: true, force: true });
  const path = join(folder, "index.cjs");
  const body = `
const { basename } = require("node:path");
function work(n) { let total = 0; for (let i = 0; i < n; i++) total += i % 7; return total; }
module.exports.answer = ${answer};
globalThis.codeCacheProbe = { answer: ${answer}, file: basename(__filename), dir: basename(__dirname), work: work(1000), exportsIsThis: this === module.exports };
`;
  mkdirSync(folder);
  writeFileSync(path, body);
  return path;
}

const probe = () => (globalThis as { codeCacheProbe?: Record<string, unknown> }).codeCacheProbe;
/** flushCodeCache() writes after the current I/O turn. */
const flushed = async () => {
  flushCodeCache();
  await turn();
  await turn();
};

test("a bundle runs as require would run it; its cache is written once it serves and taken at the next start", async () => {
  const bundle = writeBundle("gateway", 42);
  const cacheDir = join(dir, "cache");
  assert.equal(codeCacheStatus(), null, "not started from a bundle");

  const first = runBundle(bundle, { cacheDir });
  assert.deepEqual(probe(), { answer: 42, file: "index.cjs", dir: "gateway", work: 2997, exportsIsThis: true });
  assert.equal(first.used, false);
  assert.equal(codeCacheStatus(), "miss");
  assert.deepEqual(readdirSync(dir).includes("cache"), false, "nothing is written before it serves");
  await flushed();
  assert.equal(first.written, true);
  const files = readdirSync(cacheDir);
  assert.equal(files.length, 1);
  assert.match(
    files[0]!,
    new RegExp(`^gateway-index-[0-9a-f]{20}-${process.version.replace(/\./g, "\\.")}-${process.arch}\\.v8$`),
  );

  const second = runBundle(bundle, { cacheDir });
  assert.equal(second.used, true, "V8 took the cache");
  assert.equal(codeCacheStatus(), "hit");
  await flushed();
  assert.equal(second.written, false, "a cache that was used is not written again");
  assert.equal(probe()!.answer, 42);
});

test("a rebuilt bundle of the same length never runs from the old cache, and the old one is removed", async () => {
  const cacheDir = join(dir, "cache-rebuilt");
  const before = writeBundle("users", 41);
  runBundle(before, { cacheDir });
  await flushed();
  const [old] = readdirSync(cacheDir);

  const rebuilt = writeBundle("users", 43); // same length, other code: V8 alone would take the old cache
  const state = runBundle(rebuilt, { cacheDir });
  assert.equal(state.used, false);
  assert.equal(probe()!.answer, 43);
  await flushed();
  const now = readdirSync(cacheDir);
  assert.equal(now.length, 1);
  assert.notEqual(now[0], old);
});

test("CODE_CACHE_DIR=off keeps no cache; an unwritable folder costs the cache and nothing else", async () => {
  const bundle = writeBundle("orders", 7);
  const off = runBundle(bundle, { env: { CODE_CACHE_DIR: "off" } });
  assert.equal(off.file, null);
  assert.equal(codeCacheStatus(), "off");
  await flushed();
  assert.equal(off.written, false);
  assert.deepEqual(readdirSync(join(dir, "orders")), ["index.cjs"], "nothing beside the bundle");

  const blocker = join(dir, "a-file");
  writeFileSync(blocker, "");
  const unwritable = runBundle(bundle, { cacheDir: join(blocker, "cache") });
  assert.equal(probe()!.answer, 7);
  await flushed();
  assert.equal(unwritable.flushed, true);
  assert.equal(unwritable.written, false);
});
