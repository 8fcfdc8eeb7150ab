import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BUILD_STAMP, runtimeFor } from "../../scripts/lib/entry.ts";

test("npm start runs dist/ only while no source changed since the build", (t) => {
  const root = mkdtempSync(join(tmpdir(), "runtime-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "gateway"), { recursive: true });
  mkdirSync(join(root, "subgraphs/users"), { recursive: true });
  writeFileSync(join(root, "gateway/index.ts"), "");
  writeFileSync(join(root, "subgraphs/users/schema.graphql"), "");

  assert.equal(runtimeFor(root).compiled, false, "never built");
  assert.deepEqual(runtimeFor(root).argsFor("gateway/index.ts"), ["--import", "tsx", join(root, "gateway/index.ts")]);

  mkdirSync(join(root, "dist"));
  writeFileSync(join(root, "dist", BUILD_STAMP), "");
  const built = new Date(Date.now() + 1000);
  utimesSync(join(root, "dist", BUILD_STAMP), built, built);
  const fresh = runtimeFor(root);
  assert.equal(fresh.compiled, true);
  assert.deepEqual(fresh.argsFor("subgraphs/users/index.ts"), [join(root, "dist/subgraphs/users/index.js")]);

  const edited = new Date(Date.now() + 5000);
  utimesSync(join(root, "subgraphs/users/schema.graphql"), edited, edited);
  assert.equal(runtimeFor(root).compiled, false, "a schema edited after the build");
});
