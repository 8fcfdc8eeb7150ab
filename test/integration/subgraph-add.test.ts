import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { readSupergraphEntries } from "../../schema/compose.ts";
import { planStack } from "../../scripts/lib/plan.ts";
import { addSubgraph } from "../../scripts/subgraph-add.ts";

const repo = resolve(import.meta.dirname, "../..");

/** A copy of the repository's schema side, sharing its code and packages through symlinks. */
function workspace(): string {
  const root = mkdtempSync(join(tmpdir(), "subgraph-add-"));
  cpSync(join(repo, "schema"), join(root, "schema"), { recursive: true });
  for (const file of ["biome.json", ".gitignore"]) cpSync(join(repo, file), join(root, file));
  for (const name of ["users", "products", "orders", "payments"]) {
    mkdirSync(join(root, "subgraphs", name), { recursive: true });
    cpSync(join(repo, "subgraphs", name, "schema.graphql"), join(root, "subgraphs", name, "schema.graphql"));
  }
  // The generated test signs identities with the test helpers' keys.
  mkdirSync(join(root, "test"));
  for (const shared of ["subgraphs/kit", "subgraphs/shared", "common", "test/helpers"])
    symlinkSync(join(repo, shared), join(root, shared));
  symlinkSync(join(repo, "node_modules"), join(root, "node_modules"));
  return root;
}

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

test("subgraph:add scaffolds a working service, lists it on a free port and composes it", async () => {
  const root = workspace();
  roots.push(root);
  const added = await addSubgraph("gift-cards", { root });
  assert.ok(added.port >= 4001 && ![4000, 4001, 4002, 4003, 4004, 4010].includes(added.port), String(added.port));
  for (const file of [
    "schema.graphql",
    "resolvers.ts",
    "loaders.ts",
    "repository.ts",
    "migrations.ts",
    "server.ts",
    "index.ts",
  ]) {
    assert.ok(existsSync(join(root, "subgraphs/gift-cards", file)), file);
  }
  assert.ok(existsSync(join(root, "test/integration/gift-cards.test.ts")));

  const entry = readSupergraphEntries(join(root, "schema/supergraph.yaml")).find((e) => e.name === "gift-cards");
  assert.equal(entry?.routingUrl, `http://127.0.0.1:${added.port}/graphql`);
  assert.match(
    readFileSync(join(root, "schema/supergraph.yaml"), "utf8"),
    /^# The subgraphs composed/,
    "comments kept",
  );
  const supergraph = readFileSync(join(root, "schema/supergraph.graphql"), "utf8");
  assert.match(supergraph, /GIFT_CARDS @join__graph\(name: "gift-cards", url: "http:\/\/127\.0\.0\.1:\d+\/graphql"\)/);
  assert.match(supergraph, /type GiftCard\s/);

  // npm start runs it: the plan finds its folder.
  const plan = planStack(readSupergraphEntries(join(root, "schema/supergraph.yaml")), {
    root,
    env: {},
    host: "127.0.0.1",
  });
  assert.deepEqual(
    plan.processes.find((p) => p.name === "gift-cards"),
    {
      name: "gift-cards",
      entry: "subgraphs/gift-cards/index.ts",
      portVar: "GIFT_CARDS_PORT",
      port: added.port,
      defaultPort: added.port,
      readyPath: "/readyz",
      graphqlUrl: `http://127.0.0.1:${added.port}/graphql`,
      ports: [added.port],
      graphqlUrls: [`http://127.0.0.1:${added.port}/graphql`],
    },
  );

  // The generated test passes against the generated service.
  // A nested test run reports to its parent unless NODE_TEST_CONTEXT is cleared.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-reporter=tap", "test/integration/gift-cards.test.ts"],
    { cwd: root, encoding: "utf8", env },
  );
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /# pass 2/);

  await assert.rejects(addSubgraph("gift-cards", { root }), /already in schema\/supergraph\.yaml/);
});

test("a name that does not compose leaves nothing behind; bad names are refused", async () => {
  const root = workspace();
  roots.push(root);
  const yaml = readFileSync(join(root, "schema/supergraph.yaml"), "utf8");
  const supergraph = readFileSync(join(root, "schema/supergraph.graphql"), "utf8");
  // `product` would declare a second Query.product: composition refuses it.
  await assert.rejects(addSubgraph("product", { root }), /composition failed/);
  assert.equal(readFileSync(join(root, "schema/supergraph.yaml"), "utf8"), yaml);
  assert.equal(readFileSync(join(root, "schema/supergraph.graphql"), "utf8"), supergraph);
  assert.ok(!existsSync(join(root, "subgraphs/product")));
  assert.ok(!existsSync(join(root, "test/integration/product.test.ts")));

  for (const bad of ["Reviews", "kit", "shared", "../x", "a_b"]) {
    await assert.rejects(addSubgraph(bad, { root }), /is not a subgraph name/);
  }
  await assert.rejects(addSubgraph("reviews", { root, port: 4002 }), /port 4002 is already used/);
});
