import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { composeSupergraph, DEFAULT_CONFIG, readSupergraphConfig } from "../../schema/compose.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.close());

/** Waits, bounded, until the gateway has taken in the file (or refused it). */
async function until(condition: () => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await stack.gateway.supergraph.settled();
}

function supergraphWithoutStock(): string {
  const sources = readSupergraphConfig(DEFAULT_CONFIG).map((s) => ({
    ...s,
    url: stack.subgraphUrls[s.name as keyof Stack["subgraphUrls"]],
    sdl: s.name === "products" ? s.sdl.replace(/^\s*stock: Int!\s*$/m, "") : s.sdl,
  }));
  return composeSupergraph(sources);
}

test("a changed supergraph file is served without a restart; in-flight requests do not fail", async () => {
  const stockQuery = '{ product(id: "prod-001") { stock } }';
  assert.equal((await stack.graphql(stockQuery)).body.errors, undefined);
  const original = readFileSync(stack.supergraphPath, "utf8");
  const version = stack.gateway.supergraph.state!.version;

  const inFlight = Array.from({ length: 40 }, () => stack.graphql("{ products(first: 5) { nodes { id name } } }"));
  writeFileSync(stack.supergraphPath, supergraphWithoutStock());
  const results = await Promise.all(inFlight);
  assert.ok(results.every((r) => r.status === 200 && r.body.errors === undefined && r.body.data));

  await until(() => stack.gateway.supergraph.state!.version !== version, "the new supergraph");
  assert.equal(stack.gateway.supergraph.state!.reloads, 1);
  const gone = await stack.graphql(stockQuery);
  assert.equal(gone.body.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");

  writeFileSync(stack.supergraphPath, original);
  await until(() => stack.gateway.supergraph.state!.version === version, "the original supergraph");
  assert.equal((await stack.graphql(stockQuery)).body.errors, undefined);
});

test("a broken supergraph file is refused and the current one kept", async () => {
  const before = stack.gateway.supergraph.state!;
  for (const broken of ["this is not a schema {", "type Query { hello: String }"]) {
    const refusals = stack.gateway.supergraph.state!.refusals;
    writeFileSync(stack.supergraphPath, broken);
    await until(() => stack.gateway.supergraph.state!.refusals > refusals, "the refusal");
    assert.equal(stack.gateway.supergraph.state!.version, before.version);
    const res = await stack.graphql('{ product(id: "prod-001") { name } }');
    assert.equal(res.body.errors, undefined);
    assert.equal((await fetch(`${stack.url}/readyz`)).status, 200);
  }
});
