import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { test } from "node:test";
import { buildSchema, graphql, version as graphqlVersion } from "graphql";
import { getGraphQLRateLimiter } from "graphql-rate-limit";

const require = createRequire(import.meta.url);

interface LsNode {
  version?: string;
  invalid?: string;
  problems?: string[];
  peerMissing?: boolean;
  dependencies?: Record<string, LsNode>;
}

test("the overrides entry gives graphql-rate-limit a @graphql-tools/utils made for graphql 16", () => {
  // The copy graphql-rate-limit itself resolves, not whichever is hoisted.
  const fromRateLimit = createRequire(require.resolve("graphql-rate-limit"));
  const utils = fromRateLimit("@graphql-tools/utils/package.json") as {
    version: string;
    peerDependencies: Record<string, string>;
  };
  assert.ok(Number(utils.version.split(".")[0]) >= 10, utils.version);
  assert.match(utils.peerDependencies.graphql ?? "", /\^16/);
  assert.equal(graphqlVersion.split(".")[0], "16");

  // npm itself finds no invalid or unmet (peer) dependency anywhere below any @graphql-tools/utils.
  const ls = spawnSync("npm", ["ls", "--all", "--json", "@graphql-tools/utils", "graphql"], { encoding: "utf8" });
  const tree = JSON.parse(ls.stdout) as LsNode;
  assert.deepEqual(tree.problems ?? [], []);
  assert.equal(ls.status, 0, ls.stderr);
  const bad: string[] = [];
  const walk = (node: LsNode, path: string) => {
    if (node.invalid || node.peerMissing) bad.push(`${path}@${node.version}: ${node.invalid ?? "peer missing"}`);
    for (const [name, child] of Object.entries(node.dependencies ?? {})) walk(child, `${path} > ${name}`);
  };
  walk(tree, "root");
  assert.deepEqual(bad, []);
});

test("graphql-rate-limit loads and limits under graphql 16", async () => {
  const limiter = getGraphQLRateLimiter({ identifyContext: (ctx: { ip: string }) => ctx.ip });
  const schema = buildSchema("type Query { quote: String }");
  const rootValue = {
    quote: async (args: Record<string, unknown>, context: { ip: string }, info: never) => {
      const refused = await limiter({ parent: undefined, args, context, info }, { max: 2, window: "10s" });
      if (refused) throw new Error(refused);
      return "ok";
    },
  };
  const call = (ip: string) => graphql({ schema, source: "{ quote }", rootValue, contextValue: { ip } });
  assert.equal((await call("a")).data?.quote, "ok");
  assert.equal((await call("a")).data?.quote, "ok");
  const third = await call("a");
  assert.equal(third.data?.quote, null);
  assert.match(third.errors?.[0]?.message ?? "", /access 'quote' too often/);
  assert.equal((await call("b")).data?.quote, "ok", "another identity has its own budget");
});
