import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  CompositionError,
  fetchSubgraphSdl,
  readSupergraphConfig,
  readSupergraphEntries,
} from "../../schema/compose.ts";
import { freePort } from "../helpers/net.ts";

const dir = mkdtempSync(join(tmpdir(), "compose-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(yaml: string): string {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

test("supergraph.yaml takes schema files and, as rover does, subgraph_url (routing_url defaults to it)", () => {
  const file = config(
    [
      "subgraphs:",
      "  local:",
      "    routing_url: http://127.0.0.1:4001/graphql",
      "    schema: { file: local.graphql }",
      "  partners:",
      "    schema:",
      "      subgraph_url: https://partners.example/graphql",
      "      introspection_headers: { authorization: Bearer x }",
    ].join("\n"),
  );
  assert.deepEqual(readSupergraphEntries(file), [
    {
      name: "local",
      routingUrl: "http://127.0.0.1:4001/graphql",
      schema: { kind: "file", path: join(dir, "local.graphql") },
    },
    {
      name: "partners",
      routingUrl: "https://partners.example/graphql",
      schema: {
        kind: "subgraph_url",
        url: "https://partners.example/graphql",
        headers: { authorization: "Bearer x" },
      },
    },
  ]);
  assert.throws(() => readSupergraphConfig(file), /"local": cannot read .*local\.graphql: ENOENT/);
  writeFileSync(join(dir, "local.graphql"), "type Query { a: Int }");
  assert.throws(() => readSupergraphConfig(file), /"partners" reads its schema from a URL: use loadSubgraphSources/);
  assert.throws(
    () => readSupergraphEntries(config("subgraphs:\n  a:\n    routing_url: http://x/graphql\n")),
    /"a" has neither schema\.file nor schema\.subgraph_url/,
  );
  assert.throws(() => readSupergraphEntries(config("subgraphs: {}\n")), /lists no subgraphs/);
});

test("an unreachable subgraph_url is a composition error naming the URL", async () => {
  const url = `http://127.0.0.1:${await freePort()}/graphql`;
  await assert.rejects(
    fetchSubgraphSdl(url),
    (e) => e instanceof CompositionError && e.message.includes(`cannot read the schema at ${url}`),
  );
});
