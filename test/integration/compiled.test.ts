import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CODE_CACHE_EXTENSION, defaultCodeCacheDir } from "../../common/code-cache.ts";
import { generateIdentityKeyPair } from "../../common/identity-keys.ts";
import { entriesOf } from "../../scripts/lib/entry.ts";
import { type LogLine, startGateway } from "../helpers/gateway-process.ts";

const root = resolve(fileURLToPath(import.meta.url), "../../..");
const run = promisify(execFile);

/**
 * The compiled gateway as production runs it: `npm run build` into a folder of this test's, then
 * `node <out>/gateway/index.js` (the launcher) with two workers, from the checked-in supergraph.
 * The folder links the project's node_modules/ so that the build's warm-up finds what the bundles
 * leave there (better-sqlite3), as in dist/. Nothing is written into node_modules/ itself: a new
 * entry there makes npm distrust its own record of the tree (see test/unit/dependencies.test.ts).
 */
describe("the compiled gateway", () => {
  let dir: string;
  let out: string;
  const key = generateIdentityKeyPair().privateKey;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "compiled-"));
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
    out = join(dir, "dist");
    await run(process.execPath, ["--import", "tsx", "scripts/build.ts", "--out", out], { cwd: root });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts it, checks that it answers a query, stops it; returns its "gateway listening" line. */
  async function startAndStop(env: Record<string, string>): Promise<LogLine> {
    const gateway = startGateway(
      {
        NODE_ENV: "production",
        GATEWAY_WORKERS: "2",
        IDENTITY_PRIVATE_KEY: key,
        SUPERGRAPH_PATH: join(root, "schema/supergraph.graphql"),
        ...env,
      },
      [join(out, "gateway/index.js")],
    );
    try {
      const listening = await gateway.waitFor((line) => line.msg === "gateway listening", "gateway listening");
      const response = await fetch(listening.url!, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { data: { __typename: "Query" } });
      return listening;
    } finally {
      gateway.child.kill("SIGTERM");
      assert.equal(await gateway.exited, 0);
    }
  }

  const cacheFiles = (cacheDir: string) =>
    existsSync(cacheDir) ? readdirSync(cacheDir).filter((name) => name.endsWith(CODE_CACHE_EXTENSION)) : [];

  /** The workers write the cache right after they listen: wait for it, bounded. */
  async function cacheWritten(cacheDir: string): Promise<string[]> {
    const deadline = Date.now() + 15_000;
    while (cacheFiles(cacheDir).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return cacheFiles(cacheDir);
  }

  test("the build leaves every process its code cache: the gateway's first start compiles from it", async () => {
    for (const entry of entriesOf(root)) {
      const files = cacheFiles(defaultCodeCacheDir(join(out, entry.replace(/\.ts$/, ".cjs"))));
      assert.equal(files.length, 1, `${entry}: ${files.join(", ")}`);
    }
    assert.equal((await startAndStop({})).codeCache, "hit");
  });

  test("writes its code cache once it serves, and the next start compiles from it", async () => {
    const cacheDir = join(dir, "cache-default");
    const env = { CODE_CACHE_DIR: cacheDir };
    assert.equal((await startAndStop(env)).codeCache, "miss");
    const written = await cacheWritten(cacheDir);
    assert.equal(written.length, 1, `one cache for the gateway: ${written.join(", ")}`);
    assert.match(written[0]!, /^gateway-index-/);
    assert.equal((await startAndStop(env)).codeCache, "hit");
    assert.deepEqual(cacheFiles(cacheDir), written, "a cache that was taken is kept as it is");
  });

  test("its heap growth flag is set before it compiles: a cache made under GATEWAY_HEAP_GROWTH_PERCENT is taken", async () => {
    const cacheDir = join(dir, "cache-heap");
    const env = { CODE_CACHE_DIR: cacheDir, GATEWAY_HEAP_GROWTH_PERCENT: "120" };
    assert.equal((await startAndStop(env)).codeCache, "miss");
    assert.equal((await cacheWritten(cacheDir)).length, 1);
    assert.equal((await startAndStop(env)).codeCache, "hit");
  });

  test("serves without a cache where none can be written, and with CODE_CACHE_DIR=off", async () => {
    const blocker = join(dir, "not-a-folder");
    writeFileSync(blocker, "");
    assert.equal((await startAndStop({ CODE_CACHE_DIR: join(blocker, "cache") })).codeCache, "miss");
    assert.equal((await startAndStop({ CODE_CACHE_DIR: join(blocker, "cache") })).codeCache, "miss");
    assert.equal((await startAndStop({ CODE_CACHE_DIR: "off" })).codeCache, "off");
  });
});
